"""Snapshot pages: list and create, detail with the card, its runs and live progress, file downloads. Run pages:
live status and log, cancel."""

import mimetypes

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.errors import Conflict, InvalidInput
from annotation.markdown import render_markdown
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import STRENGTHS, Role
from annotation.web.auth import session_required
from training.charts import loss_charts, run_train_log
from training.forms import SnapshotForm
from training.liveness import stale_work_fail
from training.models import Snapshot, TrainingRun
from training.run_cancel import training_run_cancel
from training.snapshots.config import SnapshotConfig
from training.snapshots.service import snapshot_create, snapshot_file

SAFE_TYPES = {".jsonl": "application/x-ndjson", ".json": "application/json", ".md": "text/markdown"}


@session_required
@require_http_methods(["GET", "POST"])
def snapshots(request, slug):
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    stale_work_fail()
    project = membership.project
    error, values = None, SnapshotConfig().as_dict() | {"system_prompt": project.system_prompt}
    if request.method == "POST":
        if membership.role != Role.ADMIN:
            raise PermissionDenied("Only project admins build snapshots.")
        values = request.POST
        form = SnapshotForm(request.POST)
        if not form.is_valid():
            error = form.first_error()
        else:
            try:
                snapshot = snapshot_create(project=project, user=request.user, config=form.options())
                return redirect("snapshot", slug=slug, version=snapshot.version)
            except InvalidInput as exc:
                error = exc.message
    context = {
        "project": project,
        "snapshots": project.snapshots.order_by("-version"),
        "values": values,
        "strengths": STRENGTHS,
        "error": error,
        "ready": project.snapshots.filter(status=Snapshot.Status.READY).order_by("-version"),
    }
    return render(request, "training/snapshots.html", context, status=422 if error else 200)


@session_required
def snapshot(request, slug, version):
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    stale_work_fail()
    found = get_object_or_404(Snapshot, project=project, version=version)
    card_html = ""
    if found.status == Snapshot.Status.READY:
        with snapshot_file(found, "card.md") as handle:
            card_html = render_markdown(handle.read().decode())
    runs = found.runs.order_by("-id")
    context = {"project": project, "snapshot": found, "card_html": card_html, "runs": runs}
    template = "training/snapshot.html#status" if request.htmx else "training/snapshot.html"
    return render(request, template, context)


@session_required
def run(request, slug, run_id):
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    stale_work_fail()
    found = get_object_or_404(
        TrainingRun.objects.select_related("snapshot", "created_by", "cancel_requested_by", "model_version"),
        snapshot__project=project,
        id=run_id,
    )
    template = "training/run.html#status" if request.htmx else "training/run.html"
    context = {"project": project, "run": found, "loss_charts": loss_charts(run_train_log(found))}
    return render(request, template, context)


@session_required
def run_metrics(request, slug, run_id):
    """The run's metrics.json, as recorded when it finished, as an attachment."""
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    found = get_object_or_404(TrainingRun, snapshot__project=project, id=run_id)
    if not found.metrics:
        raise Http404("This run recorded no metrics.")
    response = JsonResponse(found.metrics, json_dumps_params={"indent": 2, "sort_keys": True})
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-run-{found.id}-metrics.json"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@session_required
@require_POST
def run_cancel(request, slug, run_id):
    project = membership_for(request.user, slug, Role.ADMIN).project
    found = get_object_or_404(TrainingRun, snapshot__project=project, id=run_id)
    try:
        cancelled = training_run_cancel(run=found, user=request.user)
        done = cancelled.status == TrainingRun.Status.CANCELLED
        messages.success(request, f"Run {found.id} {'cancelled' if done else 'is being stopped'}.")
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("run", slug=slug, run_id=found.id)


@session_required
def snapshot_download(request, slug, version, name):
    project = membership_for(request.user, slug, *STAFF_ROLES).project
    found = get_object_or_404(Snapshot, project=project, version=version)
    return download(found, name)


def download(found: Snapshot, name: str) -> FileResponse:
    """A snapshot file as an attachment with a fixed, safe content type."""
    handle = snapshot_file(found, name)
    suffix = "." + name.rsplit(".", 1)[-1]
    content_type = SAFE_TYPES.get(suffix, mimetypes.types_map.get(suffix, "application/octet-stream"))
    if suffix == ".parquet":
        content_type = "application/vnd.apache.parquet"
    response = FileResponse(handle, as_attachment=True, filename=f"{found.project.slug}-v{found.version}-{name}")
    response["Content-Type"] = content_type
    response["X-Content-Type-Options"] = "nosniff"
    return response
