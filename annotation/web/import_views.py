"""Admin pages for imports in the browser: upload, the dry-run report with live progress, start, and the result."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.errors import Conflict, QuorumError
from annotation.import_jobs import (
    MAX_UPLOAD_BYTES,
    import_job_create,
    import_job_start,
    import_jobs_recent,
    job_report,
    stale_import_jobs_fail,
)
from annotation.models import ItemImportJob
from annotation.selectors import membership_for
from annotation.taxonomy import MAX_IMPORT_LINES, Role
from annotation.web.auth import session_required
from annotation.web.forms import cleaned
from annotation.web.import_forms import ImportUploadForm


def _job(project, job_id: int) -> ItemImportJob:
    return get_object_or_404(ItemImportJob.objects.select_related("created_by"), project=project, id=job_id)


@session_required
@require_http_methods(["GET", "POST"])
def imports(request, slug):
    """The upload form and the recent imports; an upload is saved and checked in the background."""
    project = membership_for(request.user, slug, Role.ADMIN).project
    error, status = None, 200
    if request.method == "POST":
        try:
            upload = cleaned(ImportUploadForm(request.POST, request.FILES))["file"]
            job = import_job_create(project=project, by=request.user, upload=upload)
            return redirect("import-job", slug=slug, job_id=job.id)
        except QuorumError as exc:
            error, status = exc.message, 409 if isinstance(exc, Conflict) else 422
    stale_import_jobs_fail()
    context = {
        "project": project,
        "jobs": import_jobs_recent(project),
        "error": error,
        "max_mib": MAX_UPLOAD_BYTES // 2**20,
        "max_lines": MAX_IMPORT_LINES,
    }
    return render(request, "imports/index.html", context, status=status)


def _job_page(request, project, job, *, error=None, status=200):
    context = {"project": project, "job": job, "report": job_report(job), "error": error}
    template = "imports/job.html#status" if request.htmx else "imports/job.html"
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    return response


@session_required
def import_job(request, slug, job_id):
    """One import: progress while checking or importing (polled by htmx), the report, the start button, the result."""
    project = membership_for(request.user, slug, Role.ADMIN).project
    stale_import_jobs_fail()
    return _job_page(request, project, _job(project, job_id))


@session_required
@require_POST
def import_start(request, slug, job_id):
    project = membership_for(request.user, slug, Role.ADMIN).project
    job = _job(project, job_id)
    try:
        import_job_start(job=job, by=request.user)
    except Conflict as exc:
        return _job_page(request, project, job, error=exc.message, status=409)
    return redirect("import-job", slug=slug, job_id=job.id)


@session_required
def import_created(request, slug, job_id):
    """The created items' ids as JSONL: line, id and meta per item."""
    project = membership_for(request.user, slug, Role.ADMIN).project
    job = _job(project, job_id)
    if not job.created_ids:
        return _job_page(request, project, job, error="The ids exist once the import is done.", status=409)
    response = FileResponse(
        job.created_ids.open("rb"), as_attachment=True, filename=f"{project.slug}-import-{job.id}-created.jsonl"
    )
    response["Content-Type"] = "application/x-ndjson"
    return response
