"""Background work of the training module, run by `db_worker` (or RQ when REDIS_URL is set). Training runs have a
queue of their own, `training`, with its own worker, so snapshots and indexing never wait behind a run."""

from django_tasks import task

from training.run_executor import training_run_execute
from training.snapshots.runner import snapshot_build


@task()
def snapshot_build_task(snapshot_id: int) -> str:
    """Build one queued snapshot."""
    return snapshot_build(snapshot_id).status


@task(queue_name="training")
def training_run_task(run_id: int) -> str:
    """Run one queued training run (the pipeline runs in a child process); a run cancelled while queued is skipped."""
    return training_run_execute(run_id).status
