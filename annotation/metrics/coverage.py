"""What the project's data covers: task types against the target mix, refusal balance, domains, languages, time."""

from datetime import timedelta

from django.core.cache import cache
from django.db.models import CharField, Count, Q
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from annotation.models import Annotation, Item, Project
from annotation.taxonomy import Kind, Safety

# A harm category is out of balance when one side has more than this many times the other's items.
SAFETY_RATIO_LIMIT = 2.0
COVERAGE_TTL = 30


def task_type_mix(project: Project) -> list[dict]:
    """Per task type: items, annotated items, realised share of annotated items, target share and the deficit
    (how many more annotated items the type needs to reach its target share)."""
    counts = {
        row["task_type"]: row
        for row in Item.objects.filter(project=project)
        .exclude(task_type="")
        .values("task_type")
        .annotate(items=Count("id"), annotated=Count("id", filter=Q(completed_count__gt=0)))
    }
    total = sum(row["annotated"] for row in counts.values())
    rows = []
    for task_type in dict.fromkeys([*project.task_types, *counts]):
        row = counts.get(task_type, {"items": 0, "annotated": 0})
        target = float(project.task_type_mix.get(task_type, 0.0))
        share = row["annotated"] / total if total else 0.0
        rows.append(
            {
                "task_type": task_type,
                "items": row["items"],
                "annotated": row["annotated"],
                "share": share,
                "target": target,
                "deficit": max(0, round(target * total - row["annotated"])) if target else 0,
            }
        )
    return rows


def under_covered(project: Project, limit: int = 3) -> list[str]:
    """The task types furthest below their target share, most under-covered first."""
    rows = [row for row in task_type_mix(project) if row["target"] and row["share"] < row["target"]]
    rows.sort(key=lambda row: row["share"] - row["target"])
    return [row["task_type"] for row in rows[:limit]]


def under_covered_cached(project: Project) -> list[str]:
    """under_covered, recomputed at most every COVERAGE_TTL seconds: the assignment engine asks on every pick."""
    key = f"under-covered:{project.id}"
    found = cache.get(key)
    if found is None:
        found = under_covered(project)
        cache.set(key, found, COVERAGE_TTL)
    return found


def safety_balance(project: Project) -> list[dict]:
    """Per harm category: should-refuse and should-comply items; a category leaning hard one way is flagged."""
    counts = (
        Item.objects.filter(project=project, kind=Kind.REFUSAL)
        .values("harm_category")
        .annotate(
            refuse=Count("id", filter=Q(safety=Safety.SHOULD_REFUSE)),
            comply=Count("id", filter=Q(safety=Safety.SHOULD_COMPLY)),
        )
        .order_by("harm_category")
    )
    rows = []
    for row in counts:
        refuse, comply = row["refuse"], row["comply"]
        ratio = refuse / comply if comply else None
        if not comply:
            flag = "no should-answer prompts: the model may learn to refuse the whole topic"
        elif not refuse:
            flag = "no should-refuse prompts: the model may comply with harm"
        elif ratio > SAFETY_RATIO_LIMIT or ratio < 1 / SAFETY_RATIO_LIMIT:
            flag = "unbalanced"
        else:
            flag = ""
        rows.append(
            {"harm_category": row["harm_category"] or "(none)", "refuse": refuse, "comply": comply, "flag": flag}
        )
    return rows


def domains_and_languages(project: Project) -> dict:
    items = Item.objects.filter(project=project)
    domains = items.values("domain").annotate(n=Count("id")).order_by("-n")
    languages = items.values("meta__language").annotate(n=Count("id")).order_by("-n")
    return {
        "domains": [{"domain": row["domain"] or "(none)", "items": row["n"]} for row in domains],
        "languages": [{"language": row["meta__language"] or "(not given)", "items": row["n"]} for row in languages],
    }


def annotations_per_day(project: Project, days: int = 30) -> list[dict]:
    """Annotations per UTC day and kind over the last `days` days. Past days cannot change, so they are cached
    for the day; only today's rows are counted on every call."""
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    key = f"per-day:{project.id}:{today.date().isoformat()}:{days}"
    past = cache.get(key)
    if past is None:
        past = _per_day(project, since=today - timedelta(days=days - 1), until=today)
        cache.set(key, past, 24 * 3600)
    return past + _per_day(project, since=today, until=None)


def _per_day(project: Project, *, since, until) -> list[dict]:
    # The date is the first ten characters of the UTC timestamp as text (USE_TZ keeps the connections in UTC):
    # grouping on that stays inside the database, where TruncDate on SQLite calls back into Python per row.
    day = Substr(Cast("created_at", output_field=CharField()), 1, 10)
    rows = Annotation.objects.filter(project=project, created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    counts = rows.annotate(day=day).values("day", "kind").annotate(n=Count("id")).order_by("day", "kind")
    return [{"day": row["day"], "kind": row["kind"], "annotations": row["n"]} for row in counts]
