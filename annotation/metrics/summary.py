"""Every quality figure of a project in one JSON-ready dict (the metrics API; the dashboards show the same)."""

from annotation.metrics.consistency import refusal_conflicts, response_style
from annotation.metrics.coverage import annotations_per_day, domains_and_languages, safety_balance, task_type_mix
from annotation.metrics.project import cached_pairwise_metrics
from annotation.models import Project
from annotation.neardup import clusters, unsigned_count


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
