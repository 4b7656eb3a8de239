"""Agreement on ranked items (three to eight responses, judged by ranking them, ties allowed).

Each ranking implies a vote on every pair of the item's responses (`annotation.payloads.pair_votes`: +1, 0 for a
tie, −1), the same pairs a snapshot exports. Krippendorff's alpha (ordinal, from `krippendorff`) takes each
(item, pair) as a unit. Kendall's W is computed per item from Friedman's chi-square with its tie correction
(scipy): W = χ² / (m (n − 1)) for m annotators ranking n responses.
"""

import numpy as np

from annotation.metrics.agreement import krippendorff_alpha
from annotation.models import Annotation, Project
from annotation.payloads import pair_votes
from annotation.taxonomy import PAIRWISE_KINDS

DISPUTED_LIMIT = 100


def ranking_judgments(project: Project) -> dict[int, list[tuple[int, list[list[int]]]]]:
    """Per ranked item, its (annotator, ranking) judgments; self-consistency repeats left out."""
    rows = (
        Annotation.objects.filter(project=project, kind__in=PAIRWISE_KINDS, is_repeat=False, payload__has_key="ranking")
        .order_by("item_id", "id")
        .values_list("item_id", "annotator_id", "payload__ranking")
    )
    items: dict[int, list[tuple[int, list[list[int]]]]] = {}
    for item, annotator, ranking in rows:
        items.setdefault(item, []).append((annotator, ranking))
    return items


def pairwise_alpha(items: dict[int, list[tuple[int, list[list[int]]]]]) -> float | None:
    """Krippendorff's alpha (ordinal) over every (item, response pair) unit; None when undefined."""
    units: dict[tuple, int] = {}
    unit, annotator, value = [], [], []
    for item, judgments in items.items():
        for person, ranking in judgments:
            for pair, vote in pair_votes({"ranking": ranking}, _count(ranking)).items():
                unit.append(units.setdefault((item, *pair), len(units)))
                annotator.append(person)
                value.append(vote)
    if not unit:
        return None
    return krippendorff_alpha(np.array(unit), np.array(annotator), np.array(value, dtype=float), "ordinal")


def kendall_w(rankings: list[list[list[int]]]) -> float | None:
    """Kendall's coefficient of concordance of several rankings of the same responses (1 is full agreement);
    None with fewer than two rankings or when every ranking ties all responses."""
    from scipy.stats import friedmanchisquare

    count = _count(rankings[0]) if rankings else 0
    if len(rankings) < 2 or count < 3 or all(len(ranking) == 1 for ranking in rankings):
        return None
    positions = np.zeros((len(rankings), count))
    for row, ranking in enumerate(rankings):
        for tier, members in enumerate(ranking):
            positions[row, members] = tier
    statistic = friedmanchisquare(*positions.T).statistic
    return float(statistic / (len(rankings) * (count - 1)))


def _count(ranking: list[list[int]]) -> int:
    return sum(len(tier) for tier in ranking)


def ranking_metrics(project: Project) -> dict:
    """Agreement over the project's rankings: alpha over response pairs, mean Kendall's W, the least agreed items."""
    items = ranking_judgments(project)
    per_item = []
    for item, judgments in items.items():
        w = kendall_w([ranking for _, ranking in judgments])
        if w is not None:
            per_item.append({"item": item, "judgments": len(judgments), "kendall_w": w})
    per_item.sort(key=lambda row: (row["kendall_w"], -row["judgments"], row["item"]))
    return {
        "judgments": sum(len(judgments) for judgments in items.values()),
        "items": len(items),
        "alpha_pairs": pairwise_alpha(items),
        "kendall_w": float(np.mean([row["kendall_w"] for row in per_item])) if per_item else None,
        "kendall_w_items": len(per_item),
        "disputed": per_item[:DISPUTED_LIMIT],
    }
