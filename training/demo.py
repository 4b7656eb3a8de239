"""The demo's loop settings: a tiny model built on this machine from the demo's own prompts (nothing downloaded) is
the base model, so an admin can start a cycle in `make run` at once. A real project names its own base model.

Half the demo's items go to the eval split: with ten prompts a task type, that is what gives every task type with a
reference metric the five eval items a figure needs (training.reference_metrics.MIN_ITEMS)."""

import yaml
from django.conf import settings

from annotation.models import Project
from training.models import Schedule

RUN_CONFIG = {
    "stages": ["sft", "dpo"],
    "use_cpu": True,
    "max_length": 256,
    "sft": {"max_steps": 30, "batch_size": 4, "learning_rate": 0.001},
    "dpo": {"max_steps": 10, "batch_size": 4, "learning_rate": 0.0005},
}
EVAL_FRACTION = 0.5
POLICY = {"min_judgments": 20, "review_overlap": 2, "generate_max_new_tokens": 64}


def demo_loop_settings(project: Project, user) -> Schedule:
    """Build the tiny base model (once) and save the project's loop settings, the schedule left off."""
    from training.pipeline.tiny_model import build_tiny_model

    folder = settings.MEDIA_ROOT / "base-models" / project.slug
    if not (folder / "config.json").exists():
        build_tiny_model(folder, list(project.items.values_list("prompt", flat=True)) * 4)
    schedule, _ = Schedule.objects.update_or_create(
        project=project,
        defaults={
            "enabled": False,
            "snapshot_config": {"eval_fraction": EVAL_FRACTION},
            "run_config_yaml": yaml.safe_dump({"base_model": str(folder), **RUN_CONFIG}, sort_keys=False),
            "policy": POLICY,
            "updated_by": user,
        },
    )
    return schedule
