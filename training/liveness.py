"""Background work that proves it is alive: runs and builds beat while they work, and work whose worker stopped
beating (killed, out of memory, machine lost) is marked failed instead of showing "running" forever."""

from datetime import timedelta

from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from training.models import Snapshot, TrainingRun

RUN_STALE_AFTER_S = 60  # a run beats at least every second while its pipeline runs
BUILD_STALE_AFTER_S = 300  # a build beats with each progress report
STALE_NOTE = "The worker stopped reporting (it was killed or its machine was lost) at {at:%Y-%m-%d %H:%M:%S} UTC."


def stale_work_fail() -> int:
    """Mark every running run and building snapshot whose last heartbeat is too old as failed; return how many."""
    now = timezone.now()
    note = STALE_NOTE.format(at=now)
    runs = TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=RUN_STALE_AFTER_S)
    ).update(status=TrainingRun.Status.FAILED, finished_at=now, log_tail=Concat(F("log_tail"), Value(f"\n{note}\n")))
    builds = Snapshot.objects.filter(
        status=Snapshot.Status.BUILDING, heartbeat_at__lt=now - timedelta(seconds=BUILD_STALE_AFTER_S)
    ).update(status=Snapshot.Status.FAILED, finished_at=now, error=note)
    return runs + builds
