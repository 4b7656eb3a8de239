"""Imports in the background: an upload is saved and checked (a dry run) by a task, then imported by another when an
admin says so; both report progress the job page polls, and a job whose worker died is marked failed."""

import hashlib
import json
import logging
import time
import uuid
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from annotation.errors import Conflict, InvalidInput, QuorumError
from annotation.item_import import item_import, item_import_dry_run, jsonl_lines
from annotation.models import ItemImportJob, Project
from annotation.projects import ensure_writable
from annotation.selectors import membership_for
from annotation.taxonomy import Role

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 512 * 2**20
IMPORT_STALE_AFTER_S = 300  # a working job writes its progress at least every few seconds
STALE_NOTE = "The worker stopped reporting (it was killed or its machine was lost) at {at:%Y-%m-%d %H:%M:%S} UTC."
_WRITE_EVERY_S = 0.5
_READ_BYTES = 2**20
# Where each phase of the real import starts and ends on the job's progress bar.
_RUN_PHASES = {"validating": (0.0, 0.6), "inserting": (0.6, 0.95)}
Status = ItemImportJob.Status


def import_job_for(user, job_id: int) -> ItemImportJob:
    """The job if `user` is an admin of its project: 404 for non-members, 403 for other roles."""
    job = get_object_or_404(ItemImportJob.objects.select_related("project", "created_by"), id=job_id)
    membership_for(user, job.project.slug, Role.ADMIN)
    return job


def import_jobs_recent(project: Project, limit: int = 20) -> QuerySet[ItemImportJob]:
    return project.import_jobs.select_related("created_by").order_by("-id")[:limit]


def job_report(job: ItemImportJob) -> dict | None:
    """The job's dry-run report, once its check has finished."""
    if "total_lines" not in job.report:
        return None
    return {key: value for key, value in job.report.items() if key not in ("phase", "sha256")}


def import_job_create(*, project: Project, by, upload) -> ItemImportJob:
    """Store the uploaded JSONL under MEDIA_ROOT and queue its check; the upload request returns at once."""
    ensure_writable(project)
    if upload.size > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"The file is over {MAX_UPLOAD_BYTES // 2**20} MiB; split it.", field="file")
    if upload.size == 0:
        raise InvalidInput("The file is empty.", field="file")
    from annotation.tasks import import_job_check

    with transaction.atomic():
        job = ItemImportJob(project=project, created_by=by, filename=(upload.name or "upload.jsonl")[-255:])
        job.upload.save(f"{uuid.uuid4().hex}.jsonl", upload, save=False)
        job.save()
        transaction.on_commit(lambda: import_job_check.enqueue(job.id))
    return job


def import_job_start(*, job: ItemImportJob, by) -> ItemImportJob:
    """Queue the import of a checked job; refused unless the check passed and nothing started it already."""
    ensure_writable(job.project)
    from annotation.tasks import import_job_run

    with transaction.atomic():
        started = ItemImportJob.objects.filter(id=job.id, status=Status.CHECKED).update(
            status=Status.IMPORTING, progress=0.0, updated_at=timezone.now()
        )
        if not started:
            job.refresh_from_db()
            raise Conflict(f"This import is {job.status}; only a checked import without problems can start.")
        transaction.on_commit(lambda: import_job_run.enqueue(job.id))
    job.refresh_from_db()
    return job


class _ProgressWriter:
    """Writes a job's progress (and so its heartbeat) at most every half second, never once per line."""

    def __init__(self, job: ItemImportJob, status: str, base_report: dict):
        self.job, self.status, self.base_report = job, status, base_report
        self.last_write = 0.0

    def __call__(self, phase: str, fraction: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_write < _WRITE_EVERY_S:
            return
        self.last_write = now
        ItemImportJob.objects.filter(id=self.job.id, status=self.status).update(
            progress=round(fraction, 4), report={**self.base_report, "phase": phase}, updated_at=timezone.now()
        )


def _line_count_and_digest(job: ItemImportJob) -> tuple[int, str]:
    digest, count, last = hashlib.sha256(), 0, b"\n"
    with job.upload.open("rb") as stream:
        while chunk := stream.read(_READ_BYTES):
            digest.update(chunk)
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n"), digest.hexdigest()


def _finish(job: ItemImportJob, from_status: str, **fields) -> bool:
    return bool(ItemImportJob.objects.filter(id=job.id, status=from_status).update(updated_at=timezone.now(), **fields))


def job_check(job_id: int) -> str:
    """The worker's half of a check: read the file, dry-run it, store the report (status checked or invalid)."""
    job = ItemImportJob.objects.select_related("project").filter(id=job_id, status=Status.CHECKING).first()
    if job is None:
        return "skipped"
    progress = _ProgressWriter(job, Status.CHECKING, {})
    progress("counting lines", 0.0, force=True)
    try:
        total, digest = _line_count_and_digest(job)
        with job.upload.open("rb") as stream:
            report = item_import_dry_run(
                project=job.project, lines=jsonl_lines(stream), progress=progress, total_lines=total
            )
    except QuorumError as exc:
        _finish(job, Status.CHECKING, status=Status.FAILED, error=exc.message, report={})
        return Status.FAILED
    except Exception as exc:
        logger.exception("import job %s: the check failed", job_id)
        _finish(job, Status.CHECKING, status=Status.FAILED, error=f"The check failed: {exc!r}", report={})
        return Status.FAILED
    status = Status.CHECKED if report.ok else Status.INVALID
    _finish(job, Status.CHECKING, status=status, progress=1.0, report={**report.as_dict(), "sha256": digest})
    return status


def _since_the_check(exc: InvalidInput) -> str:
    shown = "; ".join(f"line {e['line']}: {e['message']}" for e in exc.errors[:5])
    more = f" (and {len(exc.errors) - 5} more)" if len(exc.errors) > 5 else ""
    return (
        f"The project changed since the check and the file no longer imports cleanly: {shown}{more}. "
        "Nothing was imported; upload the file again to check it afresh."
    )


def job_run(job_id: int) -> str:
    """The worker's half of an import: import the checked file all-or-nothing, then store the created ids (JSONL)."""
    job = ItemImportJob.objects.select_related("project", "created_by").filter(id=job_id).first()
    if job is None or job.status != Status.IMPORTING:
        return "skipped"
    check = dict(job.report)
    progress = _ProgressWriter(job, Status.IMPORTING, check)

    def overall(phase: str, fraction: float) -> None:
        start, end = _RUN_PHASES[phase]
        progress(phase, start + (end - start) * fraction)

    progress("validating", 0.0, force=True)
    try:
        if _line_count_and_digest(job)[1] != check.get("sha256"):
            raise Conflict("The file changed since the check; upload it again.")
        with job.upload.open("rb") as stream:
            result = item_import(
                project=job.project,
                lines=jsonl_lines(stream),
                by=job.created_by,
                source=f"import {job.id}: {job.filename}",
                progress=overall,
                total_lines=check.get("total_lines"),
            )
    except InvalidInput as exc:
        message = _since_the_check(exc) if exc.errors else exc.message
        _finish(job, Status.IMPORTING, status=Status.FAILED, error=message, report=job_report(job) or {})
        return Status.FAILED
    except QuorumError as exc:
        _finish(job, Status.IMPORTING, status=Status.FAILED, error=exc.message, report=job_report(job) or {})
        return Status.FAILED
    except Exception as exc:
        logger.exception("import job %s: the import failed", job_id)
        error = f"The import failed: {exc!r}. Nothing was imported unless the data browser shows the items."
        _finish(job, Status.IMPORTING, status=Status.FAILED, error=error, report=job_report(job) or {})
        return Status.FAILED
    progress("writing ids", 0.95, force=True)
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in result.items)
    job.created_ids.save(f"{uuid.uuid4().hex}-created.jsonl", ContentFile(lines.encode()), save=False)
    _finish(
        job,
        Status.IMPORTING,
        status=Status.DONE,
        progress=1.0,
        created_count=result.created,
        created_ids=job.created_ids.name,
        report=job_report(job) or {},
    )
    return Status.DONE


def stale_import_jobs_fail() -> int:
    """Mark every job whose task started but stopped writing progress a while ago as failed; return how many.
    A job still waiting for a worker (no phase yet) is left alone."""
    now = timezone.now()
    stale = ItemImportJob.objects.filter(
        status__in=[Status.CHECKING, Status.IMPORTING],
        report__has_key="phase",
        updated_at__lt=now - timedelta(seconds=IMPORT_STALE_AFTER_S),
    )
    # Read first: pages poll this every second, and a write would queue behind a running import's insert (SQLite).
    if not stale.exists():
        return 0
    return stale.update(status=Status.FAILED, error=STALE_NOTE.format(at=now), updated_at=now)
