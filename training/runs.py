"""Training runs: queue one on a ready snapshot; training.run_executor runs it."""

import yaml
from django.db import transaction

from annotation.errors import Conflict, InvalidInput
from training.models import ModelVersion, Snapshot, TrainingRun
from training.pipeline.config import ConfigError, config_from_text
from training.tasks import training_run_task


def training_run_create(
    *, snapshot: Snapshot, config_yaml: str, user=None, parent: ModelVersion | None = None, queue: bool = True
):
    """Check the run config, record the run and queue it; the pipeline runs in its own process. `queue=False`
    leaves running it to the caller (a cycle runs it inside its own training-queue task)."""
    if snapshot.status != Snapshot.Status.READY:
        raise Conflict(f"Snapshot v{snapshot.version} is {snapshot.status}; train on a ready snapshot.")
    try:
        config_from_text(config_yaml, base_model=parent.source if parent else None)
    except (ConfigError, yaml.YAMLError) as exc:
        raise InvalidInput(f"run config: {exc}", field="config") from exc
    run = TrainingRun.objects.create(snapshot=snapshot, config_yaml=config_yaml, created_by=user, parent_model=parent)
    if queue:
        transaction.on_commit(lambda: training_run_task.enqueue(run.id))
    return run
