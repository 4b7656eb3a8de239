"""Comparison statistics: win rate with a prompt-clustered bootstrap interval, and a Bradley–Terry leaderboard."""

import math
import random
import subprocess
import sys

import numpy as np
import pytest

from training.comparison import RATING_CENTRE, RATING_SCALE, bradley_terry, win_rate, win_rate_by_group

ELO_PER_LN = 400 / math.log(10)


def test_importing_the_module_loads_no_numerical_library():
    code = "import sys, training.comparison; print(sorted({'numpy', 'scipy', 'statsmodels'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_counts_and_ties_count_half():
    result = win_rate([(1, "win"), (2, "tie"), (3, "loss"), (4, "win")])
    assert (result.wins, result.ties, result.losses, result.n, result.prompts) == (2, 1, 1, 4, 4)
    assert result.rate == pytest.approx(2.5 / 4)


def test_two_ties_weigh_as_one_win_and_one_loss():
    tied = win_rate([("a", "tie"), ("b", "tie"), ("c", "win")])
    split = win_rate([("a", "win"), ("b", "loss"), ("c", "win")])
    assert tied.rate == split.rate


def test_empty_input_has_no_rate_and_no_interval():
    result = win_rate([])
    assert (result.n, result.wins, result.ties, result.losses, result.prompts) == (0, 0, 0, 0, 0)
    assert result.rate is None and result.interval is None


def test_a_single_prompt_gives_no_interval():
    result = win_rate([("p", "win"), ("p", "loss"), ("p", "win")])
    assert result.rate == pytest.approx(2 / 3)
    assert result.interval is None


def test_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match="draw"):
        win_rate([(1, "draw")])


def test_interval_brackets_the_rate_and_is_deterministic_for_a_seed():
    judgments = [(i, "win" if i % 5 < 3 else ("tie" if i % 5 == 3 else "loss")) for i in range(60)]
    first = win_rate(judgments, seed=7)
    assert first.interval[0] < first.rate < first.interval[1]
    assert win_rate(judgments, seed=7) == first
    assert win_rate(judgments, seed=8).interval != first.interval


def test_input_order_does_not_change_the_result():
    judgments = [(i % 17, ["win", "tie", "loss"][i % 3 if i % 4 else 0]) for i in range(80)]
    shuffled = judgments[:]
    random.Random(3).shuffle(shuffled)
    assert win_rate(shuffled, seed=1) == win_rate(judgments, seed=1)


def test_interval_covers_a_known_proportion_about_95_percent_of_the_time():
    """400 experiments of 200 judgments (one per prompt, no ties) with a true win rate of 0.6. The
    percentile bootstrap runs a little under its nominal 95% at this size (373-380 of 400 over several
    seeds); a 90% interval covers about 363, under the floor of 368 (92%)."""
    rng = np.random.default_rng(2024)
    covered = 0
    for experiment in range(400):
        wins = rng.random(200) < 0.6
        result = win_rate([(i, "win" if w else "loss") for i, w in enumerate(wins)], seed=experiment)
        covered += result.interval[0] <= 0.6 <= result.interval[1]
    assert 368 <= covered <= 396


def test_judgments_clustered_on_few_prompts_give_a_wider_interval():
    """The same 120 wins and 80 losses: on 200 distinct prompts, then 20 apiece on 10 prompts that each
    go one way (6 all won, 4 all lost). Clustered judgments carry less information."""
    outcomes = ["win"] * 120 + ["loss"] * 80
    distinct = win_rate(list(enumerate(outcomes)))
    clustered = win_rate([(i // 20, outcome) for i, outcome in enumerate(outcomes)])
    assert clustered.rate == distinct.rate == pytest.approx(0.6)

    def width(result):
        return result.interval[1] - result.interval[0]

    assert width(clustered) > 2 * width(distinct)


def test_confidence_sets_the_interval_width():
    judgments = [(i, "win" if i % 3 else "loss") for i in range(90)]
    narrow, wide = win_rate(judgments, confidence=0.5), win_rate(judgments, confidence=0.99)
    assert wide.interval[0] < narrow.interval[0] < narrow.interval[1] < wide.interval[1]


def test_by_group_gives_one_result_per_task_type():
    judgments = [("code", 1, "win"), ("chat", 2, "loss"), ("code", 3, "tie"), ("chat", 4, "loss")]
    groups = win_rate_by_group(judgments, seed=4)
    assert list(groups) == ["chat", "code"]
    assert groups["code"] == win_rate([(1, "win"), (3, "tie")], seed=4)
    assert groups["chat"].rate == 0.0


def ratings_of(battles, **kwargs):
    return {r.model: r.rating for r in bradley_terry(battles, **kwargs)}


def test_two_models_three_wins_in_four_is_a_strength_ratio_of_three():
    """P(A beats B) = s_A / (s_A + s_B) = 3/4 gives s_A / s_B = 3: a gap of 400·log10(3) ≈ 190.85 Elo,
    split evenly around the centre of 1000."""
    battles = [("A", "B", "win")] * 3 + [("A", "B", "loss")]
    ratings = ratings_of(battles, resamples=0, l2=0)
    gap = 400 * math.log10(3)
    assert ratings["A"] == pytest.approx(1000 + gap / 2, rel=1e-3)
    assert ratings["B"] == pytest.approx(1000 - gap / 2, rel=1e-3)
    assert ratings["A"] - ratings["B"] == pytest.approx(190.849, rel=1e-3)


def test_three_models_with_consistent_strengths_four_two_one():
    """Strengths 4 : 2 : 1 predict A over B 2/3, B over C 2/3, A over C 4/5. Observed: A beats B 2 of 3,
    B beats C 2 of 3, A beats C 4 of 5, so every pair sits at its own optimum and the joint maximum
    likelihood is log-strengths ln 4, ln 2, ln 1; centred on their mean ln 2 they are ln 2, 0, -ln 2:
    ratings 1000 + 400·log10(2) = 1120.412, 1000, 879.588."""
    battles = (
        [("A", "B", "win")] * 2
        + [("A", "B", "loss")]
        + [("B", "C", "win")] * 2
        + [("B", "C", "loss")]
        + [("A", "C", "win")] * 4
        + [("A", "C", "loss")]
    )
    ratings = ratings_of(battles, resamples=0, l2=0)
    assert ratings["A"] == pytest.approx(1120.412, rel=1e-3)
    assert ratings["B"] == pytest.approx(1000.0, rel=1e-3)
    assert ratings["C"] == pytest.approx(879.588, rel=1e-3)


def test_fit_satisfies_the_score_equations_when_pairs_disagree():
    """At the maximum likelihood each model's expected wins equal its observed wins (ties half), even
    when the pairs are not transitive (A > B > C > A here, unevenly)."""
    battles = (
        [("A", "B", "win")] * 5
        + [("A", "B", "loss")]
        + [("B", "C", "win")] * 3
        + [("C", "B", "tie")] * 2
        + [("C", "A", "win")] * 2
        + [("A", "C", "win")] * 3
    )
    ratings = ratings_of(battles, resamples=0, l2=0)
    strength = {model: math.exp((rating - RATING_CENTRE) / RATING_SCALE) for model, rating in ratings.items()}
    observed = dict.fromkeys(ratings, 0.0)
    expected = dict.fromkeys(ratings, 0.0)
    for a, b, outcome in battles:
        score = {"win": 1.0, "tie": 0.5, "loss": 0.0}[outcome]
        p = strength[a] / (strength[a] + strength[b])
        observed[a] += score
        observed[b] += 1 - score
        expected[a] += p
        expected[b] += 1 - p
    assert expected == pytest.approx(observed, abs=1e-4)
    assert sum(ratings.values()) / 3 == pytest.approx(RATING_CENTRE)


def test_a_tie_counts_as_half_a_win_each():
    tied = ratings_of([("A", "B", "tie")] * 2 + [("A", "B", "win")], resamples=0)
    split = ratings_of([("A", "B", "win"), ("A", "B", "loss"), ("A", "B", "win")], resamples=0)
    assert tied == pytest.approx(split)
    assert ratings_of([("A", "B", "tie")] * 4, resamples=0) == pytest.approx({"A": 1000.0, "B": 1000.0})


def test_an_unbeaten_model_is_held_finite_by_the_prior():
    """10 wins of 10: the likelihood alone grows without bound. With the prior l2/2·(θ_A² + θ_B²) and
    θ_A = -θ_B = d/2, the optimum solves 10·σ(-d) = l2·d/2; for l2 = 0.01, d ≈ 6.0 (by bisection here)."""
    low, high = 0.0, 50.0
    while high - low > 1e-12:
        mid = (low + high) / 2
        low, high = (mid, high) if 10 / (1 + math.exp(mid)) > 0.01 * mid / 2 else (low, mid)
    ratings = ratings_of([("new", "old", "win")] * 10, resamples=0, l2=0.01)
    assert ratings["new"] - ratings["old"] == pytest.approx(low * ELO_PER_LN, rel=1e-4)

    board = bradley_terry([("new", "old", "win")] * 10 + [("old", "base", "win")] * 3, resamples=50)
    assert [r.model for r in board] == ["new", "old", "base"]
    assert all(math.isfinite(r.rating) and all(map(math.isfinite, r.interval)) for r in board)


def test_leaderboard_is_sorted_with_battle_counts_and_intervals():
    battles = [("A", "B", "win")] * 6 + [("A", "B", "loss")] * 2 + [("B", "C", "win")] * 5 + [("C", "B", "win")] * 3
    board = bradley_terry(battles, resamples=200, seed=2)
    assert [r.model for r in board] == ["A", "B", "C"]
    assert [r.battles for r in board] == [8, 16, 8]
    for r in board:
        assert r.interval[0] < r.rating < r.interval[1]


def test_order_and_sides_of_battles_do_not_change_the_leaderboard():
    battles = [("A", "B", "win")] * 4 + [("B", "C", "tie")] * 3 + [("C", "A", "win")] * 2 + [("A", "C", "win")] * 3
    flipped = [(b, a, {"win": "loss", "loss": "win", "tie": "tie"}[o]) for a, b, o in battles]
    random.Random(5).shuffle(flipped)
    assert bradley_terry(flipped, resamples=100, seed=9) == bradley_terry(battles, resamples=100, seed=9)


def test_leaderboard_is_deterministic_for_a_seed():
    battles = [("A", "B", "win")] * 4 + [("A", "B", "loss")] * 3 + [("B", "C", "win")] * 2 + [("C", "B", "loss")]
    first = bradley_terry(battles, resamples=30, seed=1)
    assert bradley_terry(battles, resamples=30, seed=1) == first
    assert bradley_terry(battles, resamples=30, seed=2) != first


def test_no_battles_is_an_empty_leaderboard_and_bad_battles_are_refused():
    assert bradley_terry([]) == []
    with pytest.raises(ValueError, match="itself"):
        bradley_terry([("A", "A", "win")])
    with pytest.raises(ValueError, match="draw"):
        bradley_terry([("A", "B", "draw")])
    with pytest.raises(ValueError, match="l2"):
        bradley_terry([("A", "B", "win")], l2=0)
