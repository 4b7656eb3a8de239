"""The seeded workload the throughput benches share (issue 16): pairwise items whose prompt and two responses are
each 200-600 characters of Zipf-distributed words from a 5,000-word vocabulary (about 1.2 KB of JSON an item), 5%
of the prompts near-copies of an earlier one (a word or two changed, or a short phrase appended), so that
near-duplicate clusters are real. Import (bench/import_items.py), indexing under load (bench/indexing.py) and the
hot path (bench/pg_hot_path.py) all use it."""

import itertools
import json
import random

import numpy as np

SEED = 16
PER_REQUEST = 5000
NEAR_COPIES = 0.05


def _vocabulary() -> tuple[list[str], list[float]]:
    rng = random.Random(0)
    words = sorted({"".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(5000)})
    rng.shuffle(words)
    return words, list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))


WORDS, _WEIGHTS = _vocabulary()
_LENGTHS = np.array([len(word) for word in WORDS])
_P = np.diff(np.array([0.0, *_WEIGHTS])) / _WEIGHTS[-1]


def texts(count: int, seed: int, end: str = ".") -> list[str]:
    """`count` texts of 200-600 characters of words, each cut at a word's end."""
    rng = np.random.default_rng(seed)
    picks, cuts = rng.choice(len(WORDS), size=(count, 150), p=_P), rng.integers(200, 601, size=count)
    fitting = ((_LENGTHS[picks] + 1).cumsum(axis=1) <= cuts[:, None] + 1).sum(axis=1)
    return [
        " ".join([WORDS[i] for i in row[:n]]).capitalize() + end
        for row, n in zip(picks.tolist(), fitting.tolist(), strict=True)
    ]


def prompts(count: int, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    fresh = iter(texts(count, seed, end="?"))
    made: list[str] = []
    for _ in range(count):
        if made and rng.random() < NEAR_COPIES:
            base = rng.choice(made[-5000:]).split()
            for _ in range(rng.randint(1, 2)):
                base[rng.randrange(len(base))] = rng.choice(WORDS)
            if rng.random() < 0.5:
                base += rng.choices(WORDS, cum_weights=_WEIGHTS, k=3)
            made.append(" ".join(base))
        else:
            made.append(next(fresh))
    return made


def items(count: int, seed: int = SEED) -> list[dict]:
    """`count` preference items as import lines take them, each with its line number as `meta.client_id`."""
    answers = iter(texts(2 * count, seed + 1))
    return [
        {
            "kind": "preference",
            "prompt": prompt,
            "task_type": "open_qa",
            "responses": [{"text": next(answers), "source": "model:a"}, {"text": next(answers), "source": "model:b"}],
            "meta": {"client_id": f"c-{i}"},
        }
        for i, prompt in enumerate(prompts(count, seed))
    ]


def request_bodies(count: int, seed: int = SEED) -> list[bytes]:
    """The items as JSONL request bodies of PER_REQUEST lines each."""
    lines = [json.dumps(item) for item in items(count, seed)]
    return ["\n".join(lines[start : start + PER_REQUEST]).encode() for start in range(0, count, PER_REQUEST)]
