"""Background work, declared with Django's task API and run by `db_worker` (or RQ when REDIS_URL is set)."""

from django_tasks import task

from annotation.models import Project
from annotation.neardup import index_project


@task()
def near_duplicates_index(project_id: int) -> int:
    """Sign and cluster the project's new items for near-duplicate detection."""
    project = Project.objects.filter(id=project_id).first()
    return index_project(project) if project else 0
