"""Near-duplicate prompts: MinHash signatures of word shingles, stored per item, and an LSH index (datasketch).

Indexing is incremental: only items without a signature are hashed; each is clustered with the earliest
near-duplicate already indexed (`Item.duplicate_of`). Each process keeps the project's LSH index in memory and
adds what was signed since it last looked, so a query costs one small read and an LSH lookup.
"""

import re
import threading

import numpy as np
from datasketch import MinHash, MinHashLSH
from django.db import transaction

from annotation.models import Item, Project

NUM_PERM = 64
THRESHOLD = 0.7
SHINGLE_WORDS = 3
_BATCH = 2000
_WORD = re.compile(r"\w+", re.UNICODE)
SCHEME = "affine32"  # hash values below 2**32: stored as 4 bytes each
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME).permutations


def prompt_text(item: Item) -> str:
    if item.messages:
        return " ".join(turn["content"] for turn in item.messages if turn["role"] == "user")
    return item.prompt


def shingles(text: str) -> list[bytes]:
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode()] if words else [b""]
    return [" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)]


def signature(text: str) -> MinHash:
    minhash = MinHash(num_perm=NUM_PERM, seed=1, permutations=_PERMUTATIONS, scheme=SCHEME)
    minhash.update_batch(shingles(text))
    return minhash


def _from_bytes(raw: bytes) -> MinHash:
    values = np.frombuffer(raw, dtype=np.uint32).astype(np.uint64)
    return MinHash(num_perm=NUM_PERM, seed=1, hashvalues=values, permutations=_PERMUTATIONS, scheme=SCHEME)


class _ProjectIndex:
    def __init__(self):
        self.lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        self.last_id = 0
        self.lock = threading.Lock()

    def catch_up(self, project_id: int) -> None:
        """Add every item signed since this index last looked."""
        with self.lock:
            signed = (
                Item.objects.filter(project_id=project_id, id__gt=self.last_id, minhash__isnull=False)
                .order_by("id")
                .values_list("id", "minhash")
            )
            for item_id, raw in signed.iterator(chunk_size=_BATCH):
                self.lsh.insert(item_id, _from_bytes(bytes(raw)), check_duplication=False)
                self.last_id = item_id

    def query(self, minhash: MinHash) -> list[int]:
        return sorted(self.lsh.query(minhash))


_indexes: dict[int, _ProjectIndex] = {}


def project_index(project_id: int) -> _ProjectIndex:
    index = _indexes.setdefault(project_id, _ProjectIndex())
    index.catch_up(project_id)
    return index


def index_project(project: Project) -> int:
    """Sign every item of the project that has no signature yet and cluster it; return how many were signed."""
    index = project_index(project.id)
    # Ids the index may answer with that still exist: an item can be deleted after it was indexed.
    known = set(Item.objects.filter(project=project, minhash__isnull=False).values_list("id", flat=True))
    roots = dict(Item.objects.filter(project=project, duplicate_of__isnull=False).values_list("id", "duplicate_of"))
    signed = 0
    while True:
        batch = list(Item.objects.filter(project=project, minhash__isnull=True).order_by("id")[:_BATCH])
        if not batch:
            return signed
        known.update(item.id for item in batch)
        for item in batch:
            minhash = signature(prompt_text(item))
            matches = [match for match in index.query(minhash) if match != item.id and match in known]
            if matches:
                item.duplicate_of_id = min(roots.get(match, match) for match in matches)
            item.minhash = minhash.hashvalues.astype(np.uint32).tobytes()
            with index.lock:
                index.lsh.insert(item.id, minhash, check_duplication=False)
            roots[item.id] = item.duplicate_of_id or item.id
        with transaction.atomic():
            Item.objects.bulk_update(batch, ["minhash", "duplicate_of"], batch_size=500)
        with index.lock:
            index.last_id = max(index.last_id, batch[-1].id)
        signed += len(batch)


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
