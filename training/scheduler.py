"""The loop's clock: each tick starts the cycles that are due under their project's schedule, marks dead work failed
and lets waiting cycles take their decision. Ticks are idempotent and safe to run from several processes at once:
a due schedule is claimed by a conditional update of `last_fired_at`, and the database allows one active cycle per
project, so two schedulers racing start one cycle.

A schedule is due when its cron expression (in the server's time zone) has had a fire time since it last fired (or
was last saved), and when at least `min_new_annotations` annotations were accepted since the project's last
snapshot; with both set, both must hold (nightly, but only with enough new data)."""

import logging
from datetime import datetime

from cronsim import CronSim, CronSimError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.errors import Conflict, QuorumError
from annotation.models import Annotation
from annotation.taxonomy import Kind
from training.cycles import cycle_start
from training.decisions import cycles_decide
from training.leaderboard import leaderboards_refresh
from training.liveness import stale_work_fail
from training.models import Schedule, Snapshot
from training.selectors import accepted_writing

logger = logging.getLogger(__name__)


def cron_check(expression: str) -> str:
    """The expression if CronSim reads it; ValueError with its reason otherwise."""
    try:
        CronSim(expression, datetime.now())
    except CronSimError as exc:
        raise ValueError(f"not a cron expression ({exc})") from exc
    return expression


def new_accepted(project) -> int:
    """Annotations made since the project's last snapshot that a snapshot would take: accepted writing and
    judgments of pairs (model comparisons excluded)."""
    last = Snapshot.objects.filter(project=project).order_by("-created_at").values_list("created_at", flat=True)
    since = Q(created_at__gt=last[0]) if last else Q()
    judgments = Annotation.objects.filter(project=project, kind=Kind.PREFERENCE, is_repeat=False)
    return accepted_writing(project).filter(since).count() + judgments.filter(since).count()


def due(schedule: Schedule, now: datetime) -> str:
    """Why the schedule is due now, or "" when it is not."""
    if not schedule.enabled or not (schedule.cron or schedule.min_new_annotations):
        return ""
    reasons = []
    if schedule.cron:
        anchor = timezone.localtime(schedule.last_fired_at or schedule.updated_at)
        fire = next(CronSim(schedule.cron, anchor))
        if fire > now:
            return ""
        reasons.append(f"cron {schedule.cron!r} fired at {fire:%Y-%m-%d %H:%M}")
    if schedule.min_new_annotations:
        count = new_accepted(schedule.project)
        if count < schedule.min_new_annotations:
            return ""
        reasons.append(f"{count} new accepted annotations (at least {schedule.min_new_annotations})")
    return " and ".join(reasons)


def schedules_start(now: datetime | None = None) -> list:
    """Start a cycle for every due schedule; return the cycles started."""
    now = now or timezone.now()
    started = []
    for schedule in Schedule.objects.filter(enabled=True).select_related("project", "updated_by"):
        reason = due(schedule, now)
        if not reason:
            continue
        try:
            with transaction.atomic():
                claimed = Schedule.objects.filter(id=schedule.id, last_fired_at=schedule.last_fired_at).update(
                    last_fired_at=now
                )
                if claimed:
                    started.append(
                        cycle_start(project=schedule.project, user=schedule.updated_by, trigger=f"schedule: {reason}")
                    )
        except Conflict:
            pass  # a cycle is active: the schedule stays due and fires once it ends
        except QuorumError as exc:
            logger.warning("Schedule of %s cannot start a cycle: %s", schedule.project.slug, exc.message)
    Schedule.objects.filter(enabled=True).update(checked_at=now)
    return started


def scheduler_tick(now: datetime | None = None) -> dict:
    """One tick: fail dead work, settle waiting cycles, start due ones, refit changed leaderboards."""
    failed = stale_work_fail()
    decided = cycles_decide()
    started = schedules_start(now)
    leaderboards_refresh()
    return {"failed": failed, "decided": [c.id for c in decided], "started": [c.id for c in started]}
