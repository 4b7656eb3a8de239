"""Agreement between annotators on pairwise judgments, from one query into numpy arrays.

Labels come from `Annotation.preference_score` (signed strength between responses 0 and 1): the nominal label
is which response won, or a tie; the ordinal label is the signed strength itself (-3 … +3).
Krippendorff's alpha comes from `krippendorff`; Fleiss' and Cohen's kappa are computed here (the same figures as
statsmodels, without loading statsmodels, scipy and pandas into a web worker that shows them).
"""

from dataclasses import dataclass

import numpy as np

NOMINAL_LABELS = ("response 0", "response 1", "tie")


@dataclass
class Judgments:
    """Parallel arrays, one entry per pairwise annotation."""

    item: np.ndarray
    annotator: np.ndarray
    score: np.ndarray
    shown_first: np.ndarray
    longer: np.ndarray  # index of the longer response, -1 when equal or unknown
    time_ms: np.ndarray  # -1 when unknown

    @property
    def nominal(self) -> np.ndarray:
        """0 when response 0 won, 1 when response 1 won, 2 for a tie."""
        return np.where(self.score > 0, 0, np.where(self.score < 0, 1, 2))

    def __len__(self) -> int:
        return len(self.item)


def judgments_from_rows(rows) -> Judgments:
    """Rows of (item, annotator, score, shown_first, longer, time_ms); None becomes -1 where allowed."""
    data = np.array([[-1 if v is None else v for v in row] for row in rows], dtype=np.int64).reshape(-1, 6)
    return Judgments(*(data[:, i] for i in range(6)))


def reliability_matrix(item: np.ndarray, annotator: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Annotators × items, NaN where an annotator did not judge an item (the layout krippendorff expects)."""
    items, item_index = np.unique(item, return_inverse=True)
    people, person_index = np.unique(annotator, return_inverse=True)
    matrix = np.full((len(people), len(items)), np.nan)
    matrix[person_index, item_index] = value
    return matrix


def krippendorff_alpha(item, annotator, value, level: str) -> float | None:
    """Krippendorff's alpha at `level` ("nominal", "ordinal", "interval"); None when it is undefined."""
    import krippendorff

    matrix = reliability_matrix(item, annotator, value)
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if pairable.sum() == 0 or len(np.unique(value)) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=matrix[:, pairable], level_of_measurement=level))


def category_counts(item: np.ndarray, label: np.ndarray, categories: int) -> np.ndarray:
    """Items × categories: how many annotators gave each label to each item."""
    _, item_index = np.unique(item, return_inverse=True)
    table = np.zeros((item_index.max() + 1 if len(item_index) else 0, categories), dtype=np.int64)
    np.add.at(table, (item_index, label), 1)
    return table


def fleiss_kappa(table: np.ndarray) -> float | None:
    """Fleiss' kappa over the items rated by the most common number of annotators (it needs equal counts)."""
    totals = table.sum(axis=1)
    usable = totals >= 2
    if not usable.any():
        return None
    raters = np.bincount(totals[usable]).argmax()
    rows = table[totals == raters]
    if len(rows) < 2 or (rows.sum(axis=0) > 0).sum() < 2:
        return None
    agreement = ((rows * (rows - 1)).sum(axis=1) / (raters * (raters - 1))).mean()
    chance = ((rows.sum(axis=0) / rows.sum()) ** 2).sum()
    return float((agreement - chance) / (1 - chance))


def cohen_kappa(table: np.ndarray) -> float:
    """Cohen's kappa of a two-rater confusion table (rows: the first rater's labels, columns: the second's)."""
    n = table.sum()
    chance = (table.sum(axis=1) @ table.sum(axis=0)) / n**2
    return float((np.trace(table) / n - chance) / (1 - chance))


def pairwise_cohen(judgments: Judgments, min_common: int = 10) -> list[dict]:
    """Cohen's kappa for every pair of annotators who judged at least `min_common` items in common."""
    people, person = np.unique(judgments.annotator, return_inverse=True)
    order = np.lexsort((person, judgments.item))
    item, person, label = judgments.item[order], person[order], judgments.nominal[order]
    # Within an item the judgments are now adjacent and sorted by annotator: pair each with the ones after it.
    keys = []
    for offset in range(1, len(item)):
        same = item[offset:] == item[:-offset]
        if not same.any():
            break
        a, b = person[:-offset][same], person[offset:][same]
        keys.append(((a * len(people) + b) * 3 + label[:-offset][same]) * 3 + label[offset:][same])
    if not keys:
        return []
    cells, counts = np.unique(np.concatenate(keys), return_counts=True)
    tables: dict[int, np.ndarray] = {}
    for cell, count in zip(cells.tolist(), counts.tolist(), strict=True):
        pair, within = divmod(cell, 9)
        x, y = divmod(within, 3)
        tables.setdefault(pair, np.zeros((3, 3), dtype=np.int64))[x, y] = count
    results = []
    for pair, table in sorted(tables.items()):
        n = int(table.sum())
        if n < min_common:
            continue
        a, b = divmod(pair, len(people))
        kappa = cohen_kappa(table) if _informative(table) else None
        results.append({"a": int(people[a]), "b": int(people[b]), "n": n, "kappa": kappa})
    return results


def _informative(table: np.ndarray) -> bool:
    expected = (table.sum(axis=1) @ table.sum(axis=0)) / table.sum() ** 2
    return expected < 1


def leave_one_out_majority(judgments: Judgments) -> np.ndarray:
    """Per judgment: 1 if it matches the strict majority of the other annotators of the item, 0 if not,
    -1 when the others have no strict majority (or there are no others)."""
    label = judgments.nominal
    _, item_index = np.unique(judgments.item, return_inverse=True)
    counts = np.zeros((item_index.max() + 1 if len(item_index) else 0, 3), dtype=np.int64)
    np.add.at(counts, (item_index, label), 1)
    others = counts[item_index].copy()
    others[np.arange(len(label)), label] -= 1
    top = others.max(axis=1)
    winner = others.argmax(axis=1)
    strict = (others == top[:, None]).sum(axis=1) == 1
    result = np.where(winner == label, 1, 0)
    return np.where(strict & (top > 0), result, -1)
