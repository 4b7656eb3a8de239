"""Background work of the training module, run by `db_worker` (or RQ when REDIS_URL is set)."""

from django_tasks import task

from training.snapshots.runner import snapshot_build


@task()
def snapshot_build_task(snapshot_id: int) -> str:
    """Build one queued snapshot."""
    return snapshot_build(snapshot_id).status
