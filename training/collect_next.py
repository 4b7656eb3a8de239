"""What to collect next, from a cycle's error analysis (training.error_analysis): its groups per task type, harm
category, domain and tag, each failing some share of its eval rows against how much of the snapshot's training data
was of that kind. A group that fails often and is scarce in the data needs more data of its kind ("coverage"); one
that fails often although it is well represented needs its data looked at ("quality"). `coverage_prioritise` turns
the coverage task types into the project's targets, so the assignment engine hands their items out first."""

from django.db import transaction

from annotation.errors import InvalidInput
from annotation.models import Project
from training.error_analysis import eval_failures, failure_groups
from training.models import Cycle

PRIORITY_BOOST = 2.0


def collect_next(cycle: Cycle) -> list[dict]:
    """The error analysis's groups (training.error_analysis.failure_groups): coverage first, then quality, worst
    first. Empty before the cycle's checks ran; OSError or ValueError if an answer file is unreadable."""
    return failure_groups(cycle, eval_failures(cycle))


def coverage_prioritise(*, project: Project, task_types: list[str]) -> dict[str, float]:
    """Raise the target share of `task_types` and hand their items out first: each one's target is multiplied by
    PRIORITY_BOOST (a type without one starts from the mean target), then the mix is scaled to sum to 1, so the
    other types keep their relative shares; with no targets yet, the mix starts even. Returns the new mix;
    InvalidInput if a type is not one of the project's."""
    wanted = list(dict.fromkeys(task_types))
    if not wanted:
        raise InvalidInput("Choose at least one task type to prioritise.", field="task_types")
    with transaction.atomic():
        project = Project.objects.select_for_update().get(id=project.id)
        unknown = [name for name in wanted if name not in project.task_types]
        if unknown:
            raise InvalidInput(f"Not task types of this project: {', '.join(unknown)}.", field="task_types")
        mix = {name: float(share) for name, share in (project.task_type_mix or {}).items() if share}
        if not mix:
            mix = dict.fromkeys(project.task_types, 1 / len(project.task_types))
        mean = sum(mix.values()) / len(mix)
        for name in wanted:
            mix[name] = mix.get(name, mean) * PRIORITY_BOOST
        total = sum(mix.values())
        project.task_type_mix = {name: round(share / total, 6) for name, share in mix.items()}
        project.prioritise_coverage = True
        project.save(update_fields=["task_type_mix", "prioritise_coverage"])
    return project.task_type_mix
