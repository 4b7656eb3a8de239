"""Mixing SFT training rows by group (domain or task type): target shares and caps, chosen deterministically."""

import math

from training.snapshots.split import stable_hash


def keep_counts(counts: dict[str, int], *, weights: dict[str, float], caps: dict[str, int]) -> dict[str, int]:
    """How many rows of each group to keep. Weights give the largest total whose shares match them
    (a '*' weight covers every group not named); caps then bound single groups."""
    keep = dict(counts)
    if weights:
        named = {group for group in weights if group != "*"}
        share = {group: weights.get(group, 0.0) for group in counts if group in named}
        other = sum(n for group, n in counts.items() if group not in named)
        available = {**{g: counts[g] for g in share}, **({"*": other} if "*" in weights else {})}
        wanted = {**share, **({"*": weights["*"]} if "*" in weights else {})}
        total = min((available[g] / w for g, w in wanted.items() if w > 0), default=0)
        for group in counts:
            if group in named:
                keep[group] = math.floor(weights[group] * total)
            elif "*" in weights and other:
                keep[group] = math.floor(weights["*"] * total * counts[group] / other)
            else:
                keep[group] = 0
    for group, cap in caps.items():
        if group in keep:
            keep[group] = min(keep[group], cap)
    return keep


def chosen_rows(rows, *, weights: dict[str, float], caps: dict[str, int], seed: int) -> set[int] | None:
    """Row keys to keep from `rows` [(key, group)], or None when nothing is mixed (keep all)."""
    if not weights and not caps:
        return None
    by_group: dict[str, list[int]] = {}
    for key, group in rows:
        by_group.setdefault(group, []).append(key)
    keep = keep_counts({g: len(keys) for g, keys in by_group.items()}, weights=weights, caps=caps)
    chosen: set[int] = set()
    for group, keys in by_group.items():
        keys.sort(key=lambda key: stable_hash(seed, key))
        chosen.update(keys[: keep[group]])
    return chosen
