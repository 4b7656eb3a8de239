"""Background work that proves it is alive: runs and builds beat while they work, and work whose worker stopped
beating (killed, out of memory, machine lost) is marked failed instead of showing "running" forever."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from training.models import Cycle, Snapshot, TrainingRun

RUN_STALE_AFTER_S = 60  # a run beats at least every second while its pipeline runs
BUILD_STALE_AFTER_S = 300  # a build beats with each progress report
CYCLE_STALE_AFTER_S = 300  # a cycle's generation beats every few seconds; its build and run beat for it
STALE_NOTE = "The worker stopped reporting (it was killed or its machine was lost) at {at:%Y-%m-%d %H:%M:%S} UTC."


def stale_work_fail() -> int:
    """Mark every running run, building snapshot and running cycle whose last heartbeat is too old as failed (a
    failed cycle can be retried from its step); return how many."""
    now = timezone.now()
    note = STALE_NOTE.format(at=now)
    runs = TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=RUN_STALE_AFTER_S)
    ).update(status=TrainingRun.Status.FAILED, finished_at=now, log_tail=Concat(F("log_tail"), Value(f"\n{note}\n")))
    builds = Snapshot.objects.filter(
        status=Snapshot.Status.BUILDING, heartbeat_at__lt=now - timedelta(seconds=BUILD_STALE_AFTER_S)
    ).update(status=Snapshot.Status.FAILED, finished_at=now, error=note)
    return runs + builds + _stale_cycles_fail(now, note)


def _stale_cycles_fail(now, note: str) -> int:
    """A running cycle is alive while it, the snapshot it builds or the run it trains has beaten lately."""
    fresh = now - timedelta(seconds=CYCLE_STALE_AFTER_S)
    stale = (
        Cycle.objects.filter(status=Cycle.Status.RUNNING, heartbeat_at__lt=fresh)
        .exclude(Q(snapshot__status=Snapshot.Status.BUILDING, snapshot__heartbeat_at__gte=fresh))
        .exclude(Q(run__status=TrainingRun.Status.RUNNING, run__heartbeat_at__gte=fresh))
    )
    with transaction.atomic():
        found = list(stale.select_for_update(of=("self",)))
        for cycle in found:
            cycle.end(Cycle.Status.FAILED, step_status="failed", note=note)
            cycle.save()
    return len(found)
