"""Cancelling a training run: a queued run ends at once (its worker skips it); a running one is stopped by the worker
running it, which checks for the request every second, so it works from any process or machine."""

from django.db import transaction
from django.utils import timezone

from annotation.errors import Conflict
from training.models import TrainingRun


def cancel_note(run: TrainingRun) -> str:
    """The log line that says who cancelled the run and when."""
    who = run.cancel_requested_by.username if run.cancel_requested_by else "the command line"
    return f"Cancelled by {who} at {run.cancel_requested_at:%Y-%m-%d %H:%M:%S} UTC.\n"


def training_run_cancel(*, run: TrainingRun, user=None) -> TrainingRun:
    """Cancel a queued or running run (asking twice is harmless); Conflict once it has finished."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(id=run.id)
        if run.status not in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING):
            raise Conflict(f"Run {run.id} already ended ({run.status}); only a queued or running run can be cancelled.")
        if run.cancel_requested_at is None:
            run.cancel_requested_at, run.cancel_requested_by = timezone.now(), user
            fields = ["cancel_requested_at", "cancel_requested_by"]
            if run.status == TrainingRun.Status.QUEUED:
                run.status, run.finished_at = TrainingRun.Status.CANCELLED, run.cancel_requested_at
                run.log_tail += cancel_note(run)
                fields += ["status", "finished_at", "log_tail"]
            run.save(update_fields=fields)
    return run
