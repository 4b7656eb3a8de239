"""Every quality figure of a project in one JSON-ready dict (the metrics API; the dashboards show the same)."""

from django.db.models import Count, Q

from annotation.metrics.consistency import refusal_conflicts, response_style
from annotation.metrics.coverage import annotations_per_day, domains_and_languages, safety_balance, task_type_mix
from annotation.metrics.project import cached_pairwise_metrics
from annotation.models import Annotation, Item, Project
from annotation.neardup import clusters, unsigned_count
from annotation.taxonomy import Kind


def project_metrics(project: Project) -> dict:
    near = clusters(project)
    return {
        "pairwise": cached_pairwise_metrics(project),
        "coverage": {
            "task_types": task_type_mix(project),
            "safety": safety_balance(project),
            **domains_and_languages(project),
            "per_day": annotations_per_day(project),
        },
        "consistency": response_style(project),
        "near_duplicates": {
            "clusters": near,
            "conflicts": refusal_conflicts(project),
            "unindexed_items": unsigned_count(project),
        },
    }


def overview_figures(project: Project) -> dict:
    """The overview's counts: items per kind and how many are complete, and where review stands."""
    by_kind = (
        Item.objects.filter(project=project)
        .values("kind")
        .annotate(n=Count("id"), done=Count("id", filter=Q(completed_count__gte=project.overlap)))
        .order_by("kind")
    )
    status = dict(
        Annotation.objects.filter(project=project).values_list("review_status").annotate(n=Count("id")).order_by()
    )
    reviewed = [Kind.DEMONSTRATION, Kind.REFUSAL]
    pending = Annotation.objects.filter(project=project, review_status="pending", kind__in=reviewed)
    return {
        "by_kind": list(by_kind),
        "reviews": {
            "total": sum(status.values()),
            "pending": pending.count(),
            "flagged": pending.filter(kind=Kind.REFUSAL, payload__disagree=True).count(),
            "accepted": status.get("accepted", 0),
            "rejected": status.get("rejected", 0),
        },
    }
