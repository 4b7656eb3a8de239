"""Background work, declared with Django's task API and run by `db_worker` (or RQ when REDIS_URL is set)."""

import os

from django_tasks import task

from annotation.models import Project
from annotation.neardup import index_project

# Indexing 100,000 prompts is seconds of CPU on the cores that serve annotators: it yields to them.
INDEXING_NICE = 10


def lower_priority(nice: int = INDEXING_NICE) -> None:
    """Make this process at least `nice` (never less nice than it is: a process cannot raise its priority back).
    The default queue's worker stays there after indexing; its other tasks are background work too, and RQ runs
    each job in a fork of its own."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current < nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


@task()
def near_duplicates_index(project_id: int) -> int:
    """Sign and cluster the project's new items for near-duplicate detection, at a low OS priority."""
    project = Project.objects.filter(id=project_id).first()
    if project is None:
        return 0
    lower_priority()
    return index_project(project)


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
