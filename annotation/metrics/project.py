"""Project-level quality figures, computed from a handful of queries and cached until new work arrives.

The numpy-based metric modules are imported when figures are computed, not by every web worker that imports this.
"""

from django.contrib.auth import get_user_model
from django.core.cache import cache

from annotation.models import Annotation, Item, Project
from annotation.taxonomy import PAIRWISE_KINDS, TIE

DISPUTED_LIMIT = 100


def _gold_labels(project: Project) -> dict[int, int]:
    labels = {}
    for item_id, gold in Item.objects.filter(project=project, is_gold=True, kind__in=PAIRWISE_KINDS).values_list(
        "id", "gold"
    ):
        choice = gold.get("choice")
        if choice in (0, 1, TIE):
            labels[item_id] = 2 if choice == TIE else choice
    return labels


def _disputed(judgments, table, limit: int) -> list[dict]:
    items = sorted(set(judgments.item.tolist()))
    totals = table.sum(axis=1)
    rows = []
    for index in (totals >= 2).nonzero()[0]:
        counts = table[index]
        rows.append(
            {
                "item": items[index],
                "judgments": int(totals[index]),
                "agreement": float(counts.max() / totals[index]),
                "response_0": int(counts[0]),
                "response_1": int(counts[1]),
                "tie": int(counts[2]),
            }
        )
    rows.sort(key=lambda row: (row["agreement"], -row["judgments"], row["item"]))
    return rows[:limit]


def pairwise_metrics(project: Project) -> dict:
    """Agreement over the project's pairwise judgments, per pair of annotators and per annotator; agreement on
    rankings (items with three or more responses) under "rankings"."""
    from annotation.metrics.agreement import (
        category_counts,
        fleiss_kappa,
        judgments_from_rows,
        krippendorff_alpha,
        pairwise_cohen,
    )
    from annotation.metrics.annotators import annotator_quality
    from annotation.metrics.ranking import ranking_metrics

    judged = Annotation.objects.filter(project=project, preference_score__isnull=False)
    rows = judged.filter(is_repeat=False).values_list(
        "item_id", "annotator_id", "preference_score", "shown_first", "item__longer_response", "time_spent_ms"
    )
    judgments = judgments_from_rows(rows)
    table = category_counts(judgments.item, judgments.nominal, 3)
    names = dict(get_user_model().objects.filter(memberships__project=project).values_list("id", "username"))
    gold = _gold_labels(project)
    quality = annotator_quality(judgments, gold, _self_consistency(judged))
    pairs = pairwise_cohen(judgments)
    for pair in pairs:
        pair["a"], pair["b"] = names.get(pair["a"], pair["a"]), names.get(pair["b"], pair["b"])
    annotators = []
    for entry in sorted(quality, key=lambda q: (-len(q.flags), q.loo_agreement if q.loo_agreement is not None else 1)):
        row = entry.as_dict()
        row["annotator"] = names.get(entry.annotator, str(entry.annotator))
        annotators.append(row)
    return {
        "judgments": len(judgments),
        "items": len(set(judgments.item.tolist())),
        "alpha_nominal": krippendorff_alpha(judgments.item, judgments.annotator, judgments.nominal, "nominal"),
        "alpha_ordinal": krippendorff_alpha(judgments.item, judgments.annotator, judgments.score, "ordinal"),
        "fleiss_kappa": fleiss_kappa(table) if len(judgments) else None,
        "pairs": pairs,
        "annotators": annotators,
        "disputed": _disputed(judgments, table, DISPUTED_LIMIT),
        "gold_by_week": _gold_by_week(judged, gold, names),
        "rankings": ranking_metrics(project),
    }


def _sign(score: int) -> int:
    return (score > 0) - (score < 0)


def _self_consistency(judged) -> dict[int, list[bool]]:
    """Per annotator: did each repeated judgment (sides swapped) pick the same response as the first time?"""
    pairs = judged.filter(is_repeat=True, assignment__repeat_of__annotation__isnull=False).values_list(
        "annotator_id", "preference_score", "assignment__repeat_of__annotation__preference_score"
    )
    matched: dict[int, list[bool]] = {}
    for person, again, first in pairs:
        if first is not None:
            matched.setdefault(person, []).append(_sign(again) == _sign(first))
    return matched


def _gold_by_week(judged, gold: dict[int, int], names: dict[int, str]) -> list[dict]:
    """Gold accuracy per annotator and ISO week, to see whether someone improves or slips."""
    weeks: dict[tuple[str, str], list[bool]] = {}
    rows = judged.filter(is_repeat=False, item_id__in=list(gold)).values_list(
        "annotator_id", "item_id", "preference_score", "created_at"
    )
    for person, item, score, created in rows:
        year, week, _ = created.isocalendar()
        label = 2 if score == 0 else (0 if score > 0 else 1)
        weeks.setdefault((names.get(person, str(person)), f"{year}-W{week:02d}"), []).append(label == gold[item])
    return [
        {"annotator": person, "week": week, "gold_n": len(hits), "gold_accuracy": sum(hits) / len(hits)}
        for (person, week), hits in sorted(weeks.items())
    ]


def cached_pairwise_metrics(project: Project) -> dict:
    """pairwise_metrics, recomputed only when the project's annotations changed since the last computation."""
    annotations = Annotation.objects.filter(project=project)
    last = annotations.order_by("-updated_at").values_list("updated_at", flat=True).first()
    gold = Item.objects.filter(project=project, is_gold=True).count()
    key = f"pairwise-metrics:{project.id}:{annotations.count()}:{last.timestamp() if last else 0}:{gold}"
    metrics = cache.get(key)
    if metrics is None:
        metrics = pairwise_metrics(project)
        cache.set(key, metrics, timeout=24 * 3600)
    return metrics
