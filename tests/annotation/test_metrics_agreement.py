"""Agreement metrics checked against published worked examples."""

import numpy as np
import pytest

from annotation.metrics.agreement import (
    Judgments,
    category_counts,
    fleiss_kappa,
    krippendorff_alpha,
    leave_one_out_majority,
    pairwise_cohen,
)
from annotation.metrics.annotators import annotator_quality

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with missing values:
# 3 coders × 15 units; alpha is 0.691 nominal and 0.811 interval (also the krippendorff package's README example).
KRIPPENDORFF = [
    "*  *  *  *  *  3  4  1  2  1  1  3  3  *  3",
    "1  *  2  1  3  3  4  3  *  *  *  *  *  *  *",
    "*  *  2  1  3  4  4  *  2  1  1  3  3  *  4",
]

# Fleiss (1971) via Wikipedia's worked example: 10 subjects, 14 raters each, 5 categories; kappa = 0.210.
FLEISS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def long_form(rows: list[str]):
    items, people, values = [], [], []
    for person, row in enumerate(rows):
        for unit, cell in enumerate(row.split()):
            if cell != "*":
                items.append(unit)
                people.append(person)
                values.append(int(cell))
    return np.array(items), np.array(people), np.array(values)


def judgments(rows):
    """rows: (item, annotator, score, shown_first, longer, time_ms)."""
    data = np.array(rows, dtype=np.int64)
    return Judgments(*(data[:, i] for i in range(6)))


def test_krippendorff_alpha_matches_the_worked_example():
    item, person, value = long_form(KRIPPENDORFF)
    assert krippendorff_alpha(item, person, value, "nominal") == pytest.approx(0.691, abs=0.001)
    assert krippendorff_alpha(item, person, value, "interval") == pytest.approx(0.811, abs=0.001)


def test_krippendorff_alpha_is_undefined_without_variation_or_pairs():
    assert krippendorff_alpha(np.array([1, 1]), np.array([1, 2]), np.array([0, 0]), "nominal") is None
    assert krippendorff_alpha(np.array([1, 2]), np.array([1, 2]), np.array([0, 1]), "nominal") is None


def test_fleiss_kappa_matches_the_worked_example():
    assert fleiss_kappa(FLEISS) == pytest.approx(0.210, abs=0.001)


def test_fleiss_kappa_uses_items_with_the_usual_number_of_raters():
    extra = np.vstack([FLEISS, [[3, 0, 0, 0, 0]]])
    assert fleiss_kappa(extra) == pytest.approx(0.210, abs=0.001)


def test_category_counts_builds_the_fleiss_table():
    table = category_counts(np.array([5, 5, 5, 9, 9]), np.array([0, 0, 2, 1, 1]), 3)
    assert table.tolist() == [[2, 0, 1], [0, 2, 0]]


def test_cohen_kappa_matches_the_worked_example():
    # Wikipedia: 50 proposals, both yes 20, A yes B no 5, A no B yes 10, both no 15; kappa = 0.4.
    cells = [(1, 1)] * 20 + [(1, -1)] * 5 + [(-1, 1)] * 10 + [(-1, -1)] * 15
    rows = []
    for item, (a, b) in enumerate(cells):
        rows += [(item, 1, a, 0, -1, -1), (item, 2, b, 0, -1, -1)]
    (pair,) = pairwise_cohen(judgments(rows))
    assert (pair["a"], pair["b"], pair["n"]) == (1, 2, 50)
    assert pair["kappa"] == pytest.approx(0.4)


def test_leave_one_out_majority():
    rows = [
        (1, 1, 2, 0, -1, -1),  # others (2, 3) both chose response 0: agrees
        (1, 2, 1, 0, -1, -1),
        (1, 3, 3, 0, -1, -1),
        (2, 1, -1, 0, -1, -1),  # others chose 0 and tie: no strict majority
        (2, 2, 1, 0, -1, -1),
        (2, 3, 0, 0, -1, -1),
        (3, 1, -2, 0, -1, -1),  # others both chose response 0: disagrees; they see a 1-1 split
        (3, 2, 2, 0, -1, -1),
        (3, 3, 1, 0, -1, -1),
        (4, 1, 1, 0, -1, -1),  # nobody else
    ]
    assert leave_one_out_majority(judgments(rows)).tolist() == [1, 1, 1, -1, -1, -1, 0, -1, -1, -1]


def test_annotator_quality_measures_bias_and_flags_outliers():
    rows = []
    for item in range(40):
        shown_first = item % 2
        # Annotator 7 always picks the left response; 8 and 9 always pick response 0, which is also the longer one.
        left_score = 2 if shown_first == 0 else -2
        rows += [
            (item, 7, left_score, shown_first, 0, 1000),
            (item, 8, 2, shown_first, 0, 20_000),
            (item, 9, 1, shown_first, 0, 30_000),
        ]
    quality = {q.annotator: q for q in annotator_quality(judgments(rows), gold={0: 0, 1: 0, 2: 0, 3: 0, 4: 0})}
    seven, eight = quality[7], quality[8]
    assert seven.left_share == 1.0 and eight.left_share == 0.5
    assert seven.loo_agreement == 0.5 and eight.loo_agreement == 1.0
    assert seven.gold_accuracy == pytest.approx(3 / 5) and eight.gold_accuracy == 1.0
    assert eight.longer_share == 1.0 and eight.tie_rate == 0.0
    assert seven.median_seconds == 1.0
    assert any(flag.startswith("left_share") for flag in seven.flags)
    assert any(flag.startswith("median_seconds") for flag in seven.flags)
    assert any(flag.startswith("longer_share") for flag in eight.flags)
    assert not any(flag.startswith("left_share") for flag in eight.flags)
