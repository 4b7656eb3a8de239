"""Near-duplicate prompts: MinHash signatures of word shingles, stored per item, and an LSH index (datasketch).

Two prompts are near-duplicates when the Jaccard similarity of their shingle sets is at least THRESHOLD.
Indexing is incremental: only items without a signature are hashed; the LSH index proposes candidates and each
candidate is checked with the exact Jaccard similarity. Clusters are the connected components of that relation
(a persisted union–find): every member's `Item.duplicate_of` is the component's earliest item, and when a new
item joins two clusters they merge. Each process keeps the project's LSH index in memory and adds what was signed
since it last looked, so a query costs one small read and an LSH lookup.

LSH can miss a pair near the threshold; `similar_pairs` finds every pair exactly (snapshots split with it).
datasketch (with numpy and scipy) is imported on first use: a web worker that never signs a prompt stays lean.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.db import connection, transaction

from annotation.models import Item, Project

if TYPE_CHECKING:
    from datasketch import MinHash

NUM_PERM = 64
THRESHOLD = 0.7
SHINGLE_WORDS = 3
_BATCH = 2000
_WORD = re.compile(r"\w+", re.UNICODE)
SCHEME = "affine32"  # hash values below 2**32: stored as 4 bytes each


def _minhash(**values) -> MinHash:
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME, **values)


@functools.cache
def _permutations():
    return _minhash().permutations


def prompt_text(prompt: str, messages) -> str:
    if messages:
        return " ".join(turn["content"] for turn in messages if turn["role"] == "user")
    return prompt


def shingles(text: str) -> list[bytes]:
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode()] if words else [b""]
    return [" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)]


def signature(text: str) -> MinHash:
    return _signed(shingles(text))


def _signed(shingled) -> MinHash:
    minhash = _minhash(permutations=_permutations())
    minhash.update_batch(list(shingled))
    return minhash


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def similar_pairs(texts: list[str]) -> Iterator[tuple[int, int]]:
    """Every pair (i, j) of `texts` whose shingle sets have a Jaccard similarity of at least THRESHOLD, found
    exactly (an all-pairs similarity join with prefix filtering), not estimated from MinHash."""
    if len(texts) < 2:
        return
    from SetSimilaritySearch import all_pairs

    sets = [set(shingles(text)) for text in texts]
    for i, j, _ in all_pairs(sets, similarity_func_name="jaccard", similarity_threshold=THRESHOLD):
        yield i, j


def _from_bytes(raw: bytes) -> MinHash:
    import numpy as np

    values = np.frombuffer(raw, dtype=np.uint32).astype(np.uint64)
    return _minhash(hashvalues=values, permutations=_permutations())


class _ProjectIndex:
    def __init__(self):
        from datasketch import MinHashLSH

        self.lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        self.last_id = 0
        self.lock = threading.Lock()

    def catch_up(self, project_id: int) -> int:
        """Add every item signed since this index last looked; return how many."""
        added = 0
        with self.lock:
            signed = (
                Item.objects.filter(project_id=project_id, id__gt=self.last_id, minhash__isnull=False)
                .order_by("id")
                .values_list("id", "minhash")
            )
            for item_id, raw in signed.iterator(chunk_size=_BATCH):
                self.lsh.insert(item_id, _from_bytes(bytes(raw)), check_duplication=False)
                self.last_id = item_id
                added += 1
        return added

    def query(self, minhash: MinHash) -> list[int]:
        return sorted(self.lsh.query(minhash))


_indexes: dict[int, _ProjectIndex] = {}


def project_index(project_id: int) -> _ProjectIndex:
    index = _indexes.setdefault(project_id, _ProjectIndex())
    index.catch_up(project_id)
    return index


class _Components:
    """The project's clusters as a union–find whose every member points at its component's earliest item."""

    def __init__(self, project: Project):
        self.root: dict[int, int] = {}
        self.members: dict[int, set[int]] = {}
        self.known: set[int] = set()  # signed items that still exist: the LSH index may answer with deleted ones
        self.moved: set[int] = set()
        signed = Item.objects.filter(project=project, minhash__isnull=False).values_list("id", "duplicate_of")
        for item_id, root in signed.iterator(chunk_size=_BATCH):
            self.known.add(item_id)
            if root is not None:
                self.root[item_id] = root
                self.members.setdefault(root, set()).add(item_id)

    def find(self, item_id: int) -> int:
        return self.root.get(item_id, item_id)

    def union(self, a: int, b: int) -> None:
        keep, gone = sorted((self.find(a), self.find(b)))
        if keep == gone:
            return
        for member in self.members.pop(gone, set()) | {gone}:
            self.root[member] = keep
            self.members.setdefault(keep, set()).add(member)
            self.moved.add(member)

    def save_moved(self, project: Project, *, except_ids: set[int]) -> None:
        """Point members re-rooted by a merge at their new root (`except_ids` are saved by the caller)."""
        by_root: dict[int, list[int]] = {}
        for member in sorted(self.moved - except_ids):
            by_root.setdefault(self.root[member], []).append(member)
        for root, ids in by_root.items():
            for start in range(0, len(ids), 500):
                Item.objects.filter(project=project, id__in=ids[start : start + 500]).update(duplicate_of_id=root)
        self.moved.clear()


def _shingle_sets(ids) -> dict[int, set]:
    ids, found = sorted(ids), {}
    for start in range(0, len(ids), 500):
        rows = Item.objects.filter(id__in=ids[start : start + 500]).values_list("id", "prompt", "messages")
        found.update((item_id, set(shingles(prompt_text(prompt, messages)))) for item_id, prompt, messages in rows)
    return found


def _cluster(batch: list[Item], index: _ProjectIndex, components: _Components) -> None:
    """Sign the batch, add it to the index, and join each item's verified near-duplicates to its component."""
    sets = {item.id: set(shingles(prompt_text(item.prompt, item.messages))) for item in batch}
    components.known.update(sets)
    candidates = {}
    for item in batch:
        minhash = _signed(sets[item.id])
        item.minhash = minhash.hashvalues.astype("uint32").tobytes()
        with index.lock:
            index.lsh.insert(item.id, minhash, check_duplication=False)
        candidates[item.id] = minhash
    for item_id, minhash in candidates.items():
        candidates[item_id] = [m for m in index.query(minhash) if m != item_id and m in components.known]
    sets.update(_shingle_sets({m for found in candidates.values() for m in found} - set(sets)))
    for item_id, found in candidates.items():
        for match in found:
            if match in sets and jaccard(sets[item_id], sets[match]) >= THRESHOLD:
                components.union(item_id, match)
    for item in batch:
        root = components.find(item.id)
        item.duplicate_of_id = None if root == item.id else root


def _save_signed(batch: list[Item]) -> None:
    # One statement run per row: bulk_update compiles a CASE expression per row and was most of indexing's time.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Item._meta.db_table} SET minhash = %s, duplicate_of_id = %s WHERE id = %s",
            [(item.minhash, item.duplicate_of_id, item.id) for item in batch],
        )


def index_project(project: Project) -> int:
    """Sign every item of the project that has no signature yet and cluster it; return how many were signed.

    One indexer works on a project at a time (the project row is locked per batch); one that finds items signed
    by another since it last looked reloads the clusters.
    """
    if not unsigned_count(project):
        return 0  # the usual case at snapshot time: the worker indexed every item after its import
    index = project_index(project.id)
    components = None
    signed = 0
    try:
        while True:
            with transaction.atomic():
                list(Project.objects.select_for_update().filter(id=project.id).values_list("id"))
                if index.catch_up(project.id) or components is None:
                    components = _Components(project)
                batch = list(Item.objects.filter(project=project, minhash__isnull=True).order_by("id")[:_BATCH])
                if not batch:
                    return signed
                _cluster(batch, index, components)
                _save_signed(batch)
                components.save_moved(project, except_ids={item.id for item in batch})
            with index.lock:
                index.last_id = max(index.last_id, batch[-1].id)
            signed += len(batch)
    except BaseException:
        _indexes.pop(project.id, None)  # the index holds signatures of a batch that was not saved
        raise


def near_duplicates_of(project: Project, text: str, *, limit: int = 5) -> list[int]:
    """Ids of the project's items whose prompt is a near-duplicate of `text` (Jaccard ≳ THRESHOLD)."""
    if not text.strip():
        return []
    candidates = project_index(project.id).query(signature(text))
    return list(
        Item.objects.filter(project=project, id__in=candidates).order_by("id").values_list("id", flat=True)[:limit]
    )


def clusters(project: Project, limit: int = 200) -> list[dict]:
    """Near-duplicate clusters, largest first: the earliest item and the ids of its near-duplicates."""
    members: dict[int, list[int]] = {}
    for item_id, root in Item.objects.filter(project=project, duplicate_of__isnull=False).values_list(
        "id", "duplicate_of"
    ):
        members.setdefault(root, []).append(item_id)
    prompts = dict(Item.objects.filter(id__in=list(members)).values_list("id", "prompt"))
    rows = [{"root": root, "prompt": prompts.get(root, ""), "members": sorted(ids)} for root, ids in members.items()]
    rows.sort(key=lambda row: (-len(row["members"]), row["root"]))
    return rows[:limit]


def unsigned_count(project: Project) -> int:
    return Item.objects.filter(project=project, minhash__isnull=True).count()
