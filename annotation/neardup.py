"""Near-duplicate prompts: MinHash signatures of word shingles, stored per item, and an LSH index (datasketch).

Two prompts are near-duplicates when the Jaccard similarity of their shingle sets is at least THRESHOLD.
Indexing is incremental: only items without a signature are hashed; the LSH index proposes candidates and each
candidate is checked with the exact Jaccard similarity. Clusters are the connected components of that relation
(a persisted union–find): every member's `Item.duplicate_of` is the component's earliest item, and when a new
item joins two clusters they merge. Each process keeps the project's LSH index in memory and adds what was signed
since it last looked, so a query costs one small read and an LSH lookup. The index is LSH banding done here on the
stored bytes (each band's slice of the signature is a dict key), with the bands and rows datasketch's MinHashLSH
picks for THRESHOLD and NUM_PERM, so it proposes the same candidates without a MinHash object per item.

Indexing signs a whole batch at once with numpy (`signatures`, the same values as datasketch's MinHash with the
affine32 scheme, so stored signatures stay valid) and finds its verified pairs before it takes the project's lock,
so the write transaction only checks that no other indexer got there first and saves: annotators' writes wait on
it briefly, however slowly the low-priority indexer runs.

LSH can miss a pair near the threshold; `similar_pairs` finds every pair exactly (snapshots split with it).
datasketch (with numpy and scipy) is imported on first use: a web worker that never signs a prompt stays lean.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import itertools
import operator
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.db import connection, transaction

from annotation.models import Item, Project

if TYPE_CHECKING:
    import numpy as np
    from datasketch import MinHash

NUM_PERM = 64
THRESHOLD = 0.7
SHINGLE_WORDS = 3
# Each batch's write transaction holds SQLite's write lock, which annotators' writes queue behind, while a
# low-priority process may be descheduled: with 2,000 the 8-client loop's p95 while indexing was 128-154% of idle
# over 10 rounds, with 500 104-149% (bench/indexing.py --under-load), at the same CPU.
_BATCH = 500
_WORD = re.compile(r"\w+", re.UNICODE)
_ASCII_WORD = re.compile(rb"\w+")
SCHEME = "affine32"  # hash values below 2**32: stored as 4 bytes each
_digest = operator.methodcaller("digest")


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
    """The text's runs of SHINGLE_WORDS casefolded words, each joined by a space and UTF-8 encoded."""
    if text.isascii():  # the usual case: the same words, found in the encoded text
        words = _ASCII_WORD.findall(text.lower().encode())
    else:
        words = " ".join(_WORD.findall(text.casefold())).encode().split(b" ")  # words hold no spaces
    if len(words) < SHINGLE_WORDS:
        return [b" ".join(words)]
    return list(map(b" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))


def signature(text: str) -> MinHash:
    return _signed(shingles(text))


def _signed(shingled) -> MinHash:
    minhash = _minhash(permutations=_permutations())
    minhash.update_batch(list(shingled))
    return minhash


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, which datasketch's affine32 scheme applies to each input hash first."""
    values = values ^ (values >> 16)
    values = values * 0x85EBCA6B
    values = values ^ (values >> 13)
    values = values * 0xC2B2AE35
    return values ^ (values >> 16)


def signatures(shingle_sets: list) -> np.ndarray:
    """MinHash values of many shingle collections at once: one row of NUM_PERM uint32 per collection, equal to
    `_signed(collection).hashvalues` (sha1_hash32 of each shingle, then the affine32 permutations), in a few
    numpy operations over every shingle of the batch instead of one MinHash update per prompt."""
    import numpy as np

    counts = np.fromiter(map(len, shingle_sets), dtype=np.intp, count=len(shingle_sets))
    if not len(counts):
        return np.empty((0, NUM_PERM), dtype=np.uint32)
    if not counts.all():
        raise ValueError("every prompt has at least one shingle")
    digests = b"".join(map(_digest, map(hashlib.sha1, itertools.chain.from_iterable(shingle_sets))))
    with np.errstate(over="ignore"):
        first_words = np.frombuffer(digests, dtype="<u4").reshape(-1, 5)[:, 0]  # sha1_hash32: a digest's first 4 bytes
        hashed = _fmix32(first_words.astype(np.uint32))
    starts = np.zeros(len(counts), dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    # One permutation at a time over every shingle of the batch: a (shingles x NUM_PERM) matrix is ten times slower.
    result = np.empty((len(counts), NUM_PERM), dtype=np.uint32)
    permuted = np.empty_like(hashed)
    for k, (a, b) in enumerate(zip(*_permutations(), strict=True)):
        np.multiply(hashed, a, out=permuted)
        np.add(permuted, b, out=permuted)
        result[:, k] = np.minimum.reduceat(permuted, starts)
    return result


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


@functools.cache
def _bands() -> list[slice]:
    """Byte ranges of a stored signature, one per LSH band, as datasketch's MinHashLSH splits it for THRESHOLD."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    return [slice(4 * band * lsh.r, 4 * (band + 1) * lsh.r) for band in range(lsh.b)]


class _ProjectIndex:
    def __init__(self):
        self.buckets: list[defaultdict[bytes, list[int]]] = [defaultdict(list) for _ in _bands()]
        self.last_id = 0
        self.lock = threading.Lock()

    def add(self, signed: list[tuple[int, bytes]]) -> None:
        """Add stored signatures (id, NUM_PERM little-endian uint32 values); the caller holds the lock."""
        for band, buckets in zip(_bands(), self.buckets, strict=True):
            for item_id, raw in signed:
                buckets[raw[band]].append(item_id)

    def catch_up(self, project_id: int) -> int:
        """Add every item signed since this index last looked; return how many."""
        with self.lock:
            signed = (
                Item.objects.filter(project_id=project_id, id__gt=self.last_id, minhash__isnull=False)
                .order_by("id")
                .values_list("id", "minhash")
            )
            found = [(item_id, bytes(raw)) for item_id, raw in signed.iterator(chunk_size=_BATCH)]
            self.add(found)
            if found:
                self.last_id = found[-1][0]
        return len(found)

    def query(self, raw: bytes) -> list[int]:
        """Ids of the indexed items that share at least one band with the signature `raw`."""
        found: set[int] = set()
        for band, buckets in zip(_bands(), self.buckets, strict=True):
            found.update(buckets.get(raw[band], ()))
        return sorted(found)


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


Batch = list[tuple[int, list[bytes], bytes]]
"""Items being indexed: (id, shingles, stored signature)."""


def _near_pairs(batch: Batch, index: _ProjectIndex, known: set[int]) -> list[tuple[int, int]]:
    """Pairs (item, match) of each batch item and the indexed items (`known` ones, or the batch's own: the caller
    has added the batch to the index) whose shingle sets are at least THRESHOLD similar, checked exactly. Shingle
    sets are built only for items with candidates (LSH bands are symmetric: two batch items propose each other)."""
    ids = {item_id for item_id, _, _ in batch}
    candidates = {}
    for item_id, _, raw in batch:
        if found := [m for m in index.query(raw) if m != item_id and (m in known or m in ids)]:
            candidates[item_id] = found
    sets = {item_id: set(shingled) for item_id, shingled, _ in batch if item_id in candidates}
    sets.update(_shingle_sets({m for found in candidates.values() for m in found} - ids))
    return [
        (item_id, match)
        for item_id, found in candidates.items()
        for match in found
        if match in sets and jaccard(sets[item_id], sets[match]) >= THRESHOLD
    ]


def _save_signed(batch: Batch, duplicates: list[tuple[int, int]]) -> None:
    """Store the batch's signatures, then the clustered items' roots. An unsigned item has no root yet, and
    setting the self-referencing duplicate_of on every row makes SQLite check that foreign key for each."""
    table = Item._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET minhash = %s WHERE id = %s", [(raw, i) for i, _, raw in batch])
        cursor.executemany(f"UPDATE {table} SET duplicate_of_id = %s WHERE id = %s", [(r, i) for i, r in duplicates])


def _unsigned_after(project: Project, after: int) -> Batch:
    """The next batch of unsigned items past id `after`, each with its shingles and signature."""
    rows = (
        Item.objects.filter(project=project, id__gt=after, minhash__isnull=True)
        .order_by("id")
        .values_list("id", "prompt", "messages")[:_BATCH]
    )
    shingled = [(item_id, shingles(prompt_text(prompt, messages))) for item_id, prompt, messages in rows]
    values = signatures([found for _, found in shingled])
    return [(item_id, found, row.tobytes()) for (item_id, found), row in zip(shingled, values, strict=True)]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection inside: each would walk the LSH index's and the clusters' hundreds of
    thousands of long-lived objects again (a tenth of indexing's CPU), while what indexing makes and drops has no
    cycles and is freed by reference counting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_collector_paused()
def index_project(project: Project) -> int:
    """Sign every item of the project that has no signature yet and cluster it; return how many were signed.

    Each batch is signed, added to this process's index and matched before the project row is locked, so the write
    transaction (on SQLite it holds the database's write lock, which annotators' submits wait for) only checks and
    saves. Under the lock, items deleted or signed by another indexer meanwhile are dropped from the batch; if any
    were, or another indexer signed any item, the clusters are reloaded and the batch is matched again under the
    lock, against everything signed by then.
    """
    if not unsigned_count(project):
        return 0  # the usual case at snapshot time: the worker indexed every item after its import
    index = project_index(project.id)
    components = _Components(project)
    signed = after = 0
    try:
        while batch := _unsigned_after(project, after):
            after = batch[-1][0]
            with index.lock:
                index.add([(item_id, raw) for item_id, _, raw in batch])
            pairs = _near_pairs(batch, index, components.known)
            with transaction.atomic():
                list(Project.objects.select_for_update().filter(id=project.id).values_list("id"))
                raced = index.catch_up(project.id)
                ids = {item_id for item_id, _, _ in batch}
                still = ids & set(
                    Item.objects.filter(
                        project=project, id__gte=batch[0][0], id__lte=after, minhash__isnull=True
                    ).values_list("id", flat=True)
                )
                if raced or still != ids:
                    components = _Components(project)  # even for an empty batch: the next one matches against it
                    batch = [entry for entry in batch if entry[0] in still]
                    pairs = _near_pairs(batch, index, components.known)
                if not batch:
                    continue
                components.known.update(still)
                for item_id, match in pairs:
                    components.union(item_id, match)
                _save_signed(batch, [(i, components.find(i)) for i in still if components.find(i) != i])
                components.save_moved(project, except_ids=still)
            with index.lock:
                index.last_id = max(index.last_id, after)
            signed += len(batch)
        return signed
    except BaseException:
        _indexes.pop(project.id, None)  # the index holds signatures of a batch that was not saved
        raise


def near_duplicates_of(project: Project, text: str, *, limit: int = 5) -> list[int]:
    """Ids of the project's items whose prompt is a near-duplicate of `text` (Jaccard ≳ THRESHOLD)."""
    if not text.strip():
        return []
    raw = signature(text).hashvalues.astype("<u4").tobytes()
    candidates = project_index(project.id).query(raw)
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
