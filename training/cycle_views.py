"""Cycle pages: the project's cycles with its schedule and a start button, one cycle's steps and logs (live while it
is active) with cancel and retry, and the loop settings. Admins act; reviewers read."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST

from annotation.errors import Conflict, InvalidInput
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from annotation.web.auth import session_required
from training.check_tables import check_table
from training.cycles import cycle_cancel, cycle_retry, cycle_start
from training.decisions import cycle_decide
from training.forms import CycleRetryForm, ScheduleForm
from training.liveness import stale_work_fail
from training.models import Cycle, ModelDecision
from training.policy import Policy
from training.scheduler import due, new_accepted
from training.schedules import schedule_for, schedule_update

CYCLE_RELATED = ("snapshot", "run", "candidate", "champion", "created_by", "cancel_requested_by")


@session_required
@require_http_methods(["GET", "POST"])
def cycles(request, slug):
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    project = membership.project
    error, status = "", 200
    if request.method == "POST":
        if membership.role != Role.ADMIN:
            raise PermissionDenied("Only project admins start cycles.")
        try:
            started = cycle_start(project=project, user=request.user)
            return redirect("cycle", slug=slug, cycle_id=started.id)
        except (InvalidInput, Conflict) as exc:
            error, status = exc.message, exc.status
    stale_work_fail()
    schedule = schedule_for(project)
    context = {
        "project": project,
        "cycles": project.cycles.select_related("candidate", "champion").order_by("-id"),
        "schedule": schedule,
        "due": due(schedule, timezone.now()) if schedule.pk else "",
        "new_accepted": new_accepted(project),
        "error": error,
    }
    return render(request, "training/cycles.html", context, status=status)


def _cycle_in(project, cycle_id) -> Cycle:
    found = get_object_or_404(Cycle.objects.select_related(*CYCLE_RELATED), project=project, id=cycle_id)
    found.project = project  # carries the member's role for the navigation
    return found


def _cycle_for(request, slug, cycle_id, *roles) -> Cycle:
    return _cycle_in(membership_for(request.user, slug, *roles).project, cycle_id)


def _moment(value: str | None):
    return parse_datetime(value) if value else None


def _cycle_page(request, found: Cycle, *, retry_run_config: str | None = None, retry_error: str = "", status=200):
    decision_id = (found.results.get("decision") or {}).get("id")
    context = {
        "project": found.project,
        "cycle": found,
        "active": found.status in Cycle.ACTIVE,
        "decision": decision_id and ModelDecision.objects.filter(id=decision_id).select_related("decided_by").first(),
        "steps": [
            {**step, "started": _moment(step["started_at"]), "finished": _moment(step["finished_at"])}
            for step in found.steps
        ],
        "policy": Policy.from_dict(found.config.get("policy")).as_dict(),
        "snapshot_json": json.dumps(found.config.get("snapshot", {}), indent=2),
        "checks": check_table(found),
        "human": found.results.get("human"),
        "retry_run_config": found.config.get("run_config_yaml", "") if retry_run_config is None else retry_run_config,
        "retry_error": retry_error,
    }
    template = "training/cycle.html#status" if request.htmx else "training/cycle.html"
    return render(request, template, context, status=status)


@session_required
def cycle(request, slug, cycle_id):
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    stale_work_fail()
    found = _cycle_in(project, cycle_id)
    if found.status == Cycle.Status.WAITING:
        # settles as soon as the evidence does, not only at the scheduler's next tick
        found = cycle_decide(found)
        found.project = project
    return _cycle_page(request, found)


@session_required
@require_POST
def cycle_cancel_view(request, slug, cycle_id):
    found = _cycle_for(request, slug, cycle_id, Role.ADMIN)
    try:
        cycle_cancel(cycle=found, user=request.user)
        messages.success(request, f"Cycle {found.id} cancelled.")
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("cycle", slug=slug, cycle_id=found.id)


@session_required
@require_POST
def cycle_retry_view(request, slug, cycle_id):
    found = _cycle_for(request, slug, cycle_id, Role.ADMIN)
    form = CycleRetryForm(request.POST)
    posted = form["run_config_yaml"].value()
    if not form.is_valid():
        return _cycle_page(
            request,
            found,
            retry_run_config=posted,
            retry_error=f"Run config: {form.errors['run_config_yaml'][0]}",
            status=422,
        )
    try:
        cycle_retry(cycle=found, run_config_yaml=form.run_config())
    except InvalidInput as exc:
        return _cycle_page(request, found, retry_run_config=posted, retry_error=exc.message, status=422)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("cycle", slug=slug, cycle_id=found.id)
    messages.success(request, f"Cycle {found.id} queued again from its {found.step} step.")
    return redirect("cycle", slug=slug, cycle_id=found.id)


@session_required
@require_http_methods(["GET", "POST"])
def schedule(request, slug):
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    project = membership.project
    current = schedule_for(project)
    if request.method == "POST":
        if membership.role != Role.ADMIN:
            raise PermissionDenied("Only project admins change the loop settings.")
        form = ScheduleForm(request.POST)
        if form.is_valid():
            try:
                schedule_update(project=project, user=request.user, **form.values())
                messages.success(request, "Loop settings saved.")
                return redirect("cycles", slug=slug)
            except InvalidInput as exc:
                form.add_service_errors(exc)
    else:
        form = ScheduleForm(initial=ScheduleForm.initial_for(current))
    context = {"project": project, "form": form, "schedule": current}
    return render(request, "training/schedule.html", context, status=422 if form.errors else 200)
