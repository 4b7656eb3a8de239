"""A successful run's model becomes a ModelVersion: its folder (merged weights, or an adapter over a base that lives
outside any run) is moved out of the run's scratch folder into the model store under MEDIA_ROOT, and recorded
relative to it, so a later run, generation or export loads it wherever MEDIA_ROOT is mounted."""

import shutil
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from training.models import ModelVersion, TrainingRun

MODEL_NAME_TRIES = 5


def model_store() -> Path:
    return Path(settings.MEDIA_ROOT) / "models"


def model_register(run: TrainingRun) -> ModelVersion:
    """The run's final model as the project's next candidate. A name taken by a run finishing at the same moment is
    retried a few times, then the error fails the run; the folder moves only once the name is the run's."""
    project = run.snapshot.project
    final = Path(run.metrics["final_model"])
    for attempt in range(MODEL_NAME_TRIES):
        count = ModelVersion.objects.filter(project=project, run__isnull=False).count() + 1
        name = f"{project.slug}-m{count}"
        target = model_store() / project.slug / name
        try:
            with transaction.atomic():
                version = ModelVersion.objects.create(
                    project=project,
                    name=name,
                    run=run,
                    snapshot=run.snapshot,
                    parent=run.parent_model,
                    model_path=str(target.relative_to(settings.MEDIA_ROOT)),
                    metrics=run.metrics["stages"],
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    raise FileExistsError(f"The model store already holds {target}; it was left there by hand.")
                shutil.move(final, target)
                run.metrics["final_model"] = version.model_path
                TrainingRun.objects.filter(id=run.id).update(metrics=run.metrics)
                return version
        except IntegrityError:
            if attempt == MODEL_NAME_TRIES - 1:
                raise
