"""Deterministic train/eval splits: stratified by task type, whole near-duplicate clusters on one side."""

import hashlib
import math
from dataclasses import dataclass

from annotation.neardup import prompt_text, similar_pairs


def stable_hash(seed: int, key) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Split:
    eval: set[int]
    train_only: list[str]  # strata (task types, or kinds) with no item in eval


def clusters(strata) -> tuple[dict[int, int], dict[int, str]]:
    """Each item's cluster (its earliest member) and each cluster's stratum, from `strata` rows (item id, task type,
    kind, stored cluster root or None, prompt, messages) in id order.

    A cluster is a connected component of the stored clusters joined with every pair of prompts whose shingle sets
    have a Jaccard similarity of at least the near-duplicate threshold, found exactly, so no pair at or above the
    threshold is ever split, whatever the incremental index missed.
    """
    ids, texts, parent, stratum_of = [], [], {}, {}

    def find(item: int) -> int:
        while parent.get(item, item) != item:
            parent[item] = parent.get(parent[item], parent[item])
            item = parent[item]
        return item

    def union(a: int, b: int) -> None:
        keep, gone = sorted((find(a), find(b)))
        parent[gone] = keep

    stored = []
    for item_id, task_type, kind, duplicate_of, prompt, messages in strata:
        ids.append(item_id)
        texts.append(prompt_text(prompt, messages))
        stratum_of[item_id] = task_type or kind
        if duplicate_of is not None:
            stored.append((item_id, duplicate_of))
    included = set(ids)
    for item_id, duplicate_of in stored:
        if duplicate_of in included:
            union(item_id, duplicate_of)
    for i, j in similar_pairs(texts):
        union(ids[i], ids[j])
    root_of = {item_id: find(item_id) for item_id in ids}
    return root_of, {root: stratum_of[root] for root in set(root_of.values())}


def eval_items(strata, *, fraction: float, seed: int, pinned: set[int] | None = None) -> Split:
    """The items that go to eval, and the strata left without eval.

    A cluster is never split. Without `pinned`, each stratum (the task type, or the kind when an item has none)
    sends floor(`fraction` × its clusters) whole clusters to eval, chosen by a seeded hash: a stratum with fewer
    than 1/`fraction` clusters keeps all its rows in train. With `pinned` (an earlier snapshot's eval items), eval
    is those items' clusters, so comparisons stay fair.
    """
    root_of, stratum_of = clusters(strata)
    if pinned is not None:
        eval_roots = {root_of[item] for item in pinned if item in root_of}
    else:
        by_stratum: dict[str, list[int]] = {}
        for root, stratum in stratum_of.items():
            by_stratum.setdefault(stratum, []).append(root)
        eval_roots = set()
        for roots in by_stratum.values():
            roots.sort(key=lambda root: stable_hash(seed, root))
            eval_roots.update(roots[: math.floor(fraction * len(roots) + 1e-9)])
    with_eval = {stratum_of[root] for root in eval_roots}
    return Split(
        eval={item for item, root in root_of.items() if root in eval_roots},
        train_only=sorted(set(stratum_of.values()) - with_eval),
    )
