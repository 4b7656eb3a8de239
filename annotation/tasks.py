"""Background work, declared with Django's task API and run by `db_worker` (or RQ when REDIS_URL is set)."""

from django_tasks import task

from annotation.models import Project
from annotation.neardup import index_project


@task()
def near_duplicates_index(project_id: int) -> int:
    """Sign and cluster the project's new items for near-duplicate detection."""
    project = Project.objects.filter(id=project_id).first()
    return index_project(project) if project else 0


# The import services import this module (to index new items), so the tasks import them when they run.
@task()
def import_job_check(job_id: int) -> str:
    """Dry-run an uploaded import file and store its report."""
    from annotation.import_jobs import job_check

    return job_check(job_id)


@task()
def import_job_run(job_id: int) -> str:
    """Import a checked upload, all-or-nothing, with progress."""
    from annotation.import_jobs import job_run

    return job_run(job_id)
