"""Statistics for comparing model versions from human judgments: win rate with a bootstrap interval, and a
Bradley–Terry leaderboard on an Elo-like scale. Pure functions; numpy and scipy load only when called."""

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

SCORES = {"win": 1.0, "tie": 0.5, "loss": 0.0}
RATING_CENTRE = 1000.0
RATING_SCALE = 400 / math.log(10)
DEFAULT_L2 = 1e-3


@dataclass(frozen=True)
class WinRate:
    """Outcomes from the candidate's side; `rate` counts a tie as half a win. `rate` is None when n == 0;
    `interval` is None with resamples=0 or fewer than two prompts, where resampling prompts cannot vary anything."""

    wins: int
    ties: int
    losses: int
    n: int
    prompts: int
    rate: float | None
    interval: tuple[float, float] | None


@dataclass(frozen=True)
class Rating:
    """One model's Bradley–Terry rating (mean of all models = 1000) with its bootstrap interval."""

    model: Hashable
    rating: float
    interval: tuple[float, float] | None
    battles: int


def _score(outcome: str) -> float:
    if outcome not in SCORES:
        raise ValueError(f"outcome must be one of {sorted(SCORES)}, not {outcome!r}")
    return SCORES[outcome]


def bootstrap_percentiles(samples, confidence: float):
    """[low, high] percentiles holding the central `confidence` share of bootstrap samples (along axis 0)."""
    import numpy as np

    tail = (1 - confidence) / 2
    return np.quantile(samples, [tail, 1 - tail], axis=0)


def win_rate(
    judgments: Iterable[tuple[Hashable, str]], *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> WinRate:
    """Win/tie/loss counts and win rate of (prompt_key, outcome) judgments, with a percentile bootstrap
    interval that resamples prompts (with all their judgments) so that repeated judgments of a prompt
    are not counted as independent evidence. Prompt keys must be sortable; input order does not matter."""
    import numpy as np

    score_sum: dict = defaultdict(float)
    count: dict = defaultdict(int)
    tally = dict.fromkeys(SCORES, 0)
    for prompt, outcome in judgments:
        score_sum[prompt] += _score(outcome)
        count[prompt] += 1
        tally[outcome] += 1
    n = sum(tally.values())
    rate = sum(score_sum.values()) / n if n else None
    interval = None
    if len(count) > 1 and resamples > 0:
        keys = sorted(count)
        scores = np.array([score_sum[k] for k in keys])
        sizes = np.array([count[k] for k in keys])
        picks = np.random.default_rng(seed).integers(0, len(keys), size=(resamples, len(keys)))
        rates = scores[picks].sum(axis=1) / sizes[picks].sum(axis=1)
        low, high = bootstrap_percentiles(rates, confidence)
        interval = (float(low), float(high))
    return WinRate(
        wins=tally["win"],
        ties=tally["tie"],
        losses=tally["loss"],
        n=n,
        prompts=len(count),
        rate=rate,
        interval=interval,
    )


def win_rate_by_group(judgments: Iterable[tuple[Hashable, Hashable, str]], **options) -> dict[Hashable, WinRate]:
    """win_rate per group (e.g. task type) of (group, prompt_key, outcome) judgments, in sorted group order;
    `options` are win_rate's."""
    groups: dict = defaultdict(list)
    for group, prompt, outcome in judgments:
        groups[group].append((prompt, outcome))
    return {group: win_rate(groups[group], **options) for group in sorted(groups)}


def _fit(first, second, wins, games, models: int, l2: float, start=None):
    """Natural-log strengths maximising the Bradley–Terry likelihood of the pair totals, less l2/2·|θ|²,
    shifted to mean zero (the likelihood ignores a common shift)."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    def objective(theta):
        gap = theta[first] - theta[second]
        loss = -(wins * log_expit(gap) + (games - wins) * log_expit(-gap)).sum()
        slope = games * expit(gap) - wins
        grad = np.bincount(first, slope, models) - np.bincount(second, slope, models) + l2 * theta
        return loss + l2 / 2 * theta @ theta, grad

    x0 = np.zeros(models) if start is None else start
    result = minimize(objective, x0, jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 1e-15})
    return result.x - result.x.mean()


def bradley_terry(
    battles: Iterable[tuple[Hashable, Hashable, str]],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    l2: float = DEFAULT_L2,
) -> list[Rating]:
    """Bradley–Terry ratings of (model_a, model_b, outcome for a) battles, best first, as in Chatbot Arena:
    maximum likelihood log-strengths θ, reported as 1000 + θ·400/ln 10 so the models' mean is 1000 and a
    400-point gap means 10:1 odds. A tie counts half a win for each side. Intervals are percentiles of
    fits to battles resampled with replacement (None when resamples is 0).

    `l2` is a Gaussian prior on θ (variance 1/l2): the default 1e-3 (sd ≈ 31.6, about 5,500 points) barely moves
    fits to real data but keeps an unbeaten model, or a model a resample leaves out, finite. l2 = 0 gives
    the exact maximum likelihood and is refused with resamples, where a resample can leave a model out."""
    import numpy as np

    if l2 < 0 or (l2 == 0 and resamples > 0):
        raise ValueError("bootstrap intervals need l2 > 0")
    rows = []
    for a, b, outcome in battles:
        if a == b:
            raise ValueError(f"a battle of {a!r} against itself")
        score = _score(outcome)
        rows.append((a, b, score) if a < b else (b, a, 1 - score))
    if not rows:
        return []
    rows.sort()
    models = sorted({a for a, _, _ in rows} | {b for _, b, _ in rows})
    index = {model: i for i, model in enumerate(models)}
    pairs = sorted({(a, b) for a, b, _ in rows})
    pair_of = {pair: p for p, pair in enumerate(pairs)}
    first = np.array([index[a] for a, _ in pairs])
    second = np.array([index[b] for _, b in pairs])
    battle_pair = np.array([pair_of[(a, b)] for a, b, _ in rows])
    battle_score = np.array([score for _, _, score in rows])

    def fit(weights, start=None):
        games = np.bincount(battle_pair, weights, len(pairs))
        wins = np.bincount(battle_pair, battle_score * weights, len(pairs))
        return _fit(first, second, wins, games, len(models), l2, start)

    theta = fit(np.ones(len(rows)))
    intervals = [None] * len(models)
    if resamples > 0:
        rng = np.random.default_rng(seed)
        samples = np.array(
            [
                fit(np.bincount(rng.integers(0, len(rows), len(rows)), minlength=len(rows)), theta)
                for _ in range(resamples)
            ]
        )
        low, high = bootstrap_percentiles(RATING_CENTRE + RATING_SCALE * samples, confidence)
        intervals = [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]
    battles_of = Counter(a for a, _, _ in rows) + Counter(b for _, b, _ in rows)
    board = [
        Rating(
            model=model,
            rating=float(RATING_CENTRE + RATING_SCALE * theta[i]),
            interval=intervals[i],
            battles=battles_of[model],
        )
        for i, model in enumerate(models)
    ]
    return sorted(board, key=lambda r: (-r.rating, r.model))
