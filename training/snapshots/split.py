"""Deterministic train/eval splits: stratified by task type, whole near-duplicate clusters on one side."""

import hashlib
import math


def stable_hash(seed: int, key) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "big")


def eval_items(strata, *, fraction: float, seed: int, pinned: set[int] | None = None) -> set[int]:
    """Item ids that go to eval. `strata` yields (item id, task type, kind, cluster root or None).

    A cluster (an item and its near-duplicates) is never split. Without `pinned`, each task type (the kind when
    an item has none) sends the ceiling of `fraction` of its clusters to eval, chosen by a seeded hash; with
    `pinned` (an earlier snapshot's eval items), eval is those items' clusters, so comparisons stay fair.
    """
    root_of: dict[int, int] = {}
    stratum_roots: dict[str, list[int]] = {}
    for item_id, task_type, kind, duplicate_of in strata:
        root = duplicate_of or item_id
        root_of[item_id] = root
        if root == item_id:
            stratum_roots.setdefault(task_type or kind, []).append(root)
    if pinned is not None:
        eval_roots = {root_of[item] for item in pinned if item in root_of}
    else:
        eval_roots = set()
        for roots in stratum_roots.values():
            roots.sort(key=lambda root: stable_hash(seed, root))
            eval_roots.update(roots[: math.ceil(fraction * len(roots))] if fraction else [])
    return {item for item, root in root_of.items() if root in eval_roots}
