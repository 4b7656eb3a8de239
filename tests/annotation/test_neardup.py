"""Batched near-duplicate indexing: the same signatures as datasketch's MinHash (stored ones stay valid), the same
clusters however the items fall into batches, and the indexing task's lower OS priority."""

import multiprocessing
import os
import random

import numpy as np
import pytest

from annotation import neardup
from annotation.models import Item


def texts(count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    words = [f"w{n}" for n in range(300)] + ["Straße", "ÉCOLE", "naïve", "日本語"]
    made = [" ".join(rng.choices(words, k=rng.randint(1, 80))) for _ in range(count)]
    return [*made, "", "!!!", "one", "two words", "  Mixed CASE, punctuation; and   spaces  "]


def test_it_signs_a_batch_exactly_as_datasketch_minhash_does():
    sets = [set(neardup.shingles(text)) for text in texts(200)]
    expected = np.array([neardup._signed(shingled).hashvalues for shingled in sets], dtype=np.uint32)
    assert np.array_equal(neardup.signatures(sets), expected)
    assert neardup.signatures([]).shape == (0, neardup.NUM_PERM)


def test_it_shingles_as_before():
    for text in texts(100):
        words = neardup._WORD.findall(text.casefold())
        if len(words) >= neardup.SHINGLE_WORDS:
            expected = [" ".join(words[i : i + 3]).encode() for i in range(len(words) - 2)]
            assert neardup.shingles(text) == expected


@pytest.mark.django_db
def test_it_clusters_the_same_whatever_the_batch_size(project, make_items, monkeypatch):
    """Near-copies that land in later batches than their originals join the same clusters, and the index finds
    them afterwards, as when everything is indexed in one batch."""
    rng = random.Random(5)
    originals = [" ".join(f"t{rng.randrange(10_000)}" for _ in range(120)) for _ in range(30)]
    copies = [text.replace(text.split()[60], "changed", 1) for text in originals[:20]]
    rows = [{"kind": "demonstration", "prompt": text} for text in originals + copies]
    monkeypatch.setattr(neardup, "_BATCH", 7)
    monkeypatch.setattr("annotation.item_import.index_later", lambda project: None)
    make_items(project, rows)
    assert neardup.index_project(project) == 50
    by_prompt = dict(Item.objects.values_list("prompt", "id"))
    roots = dict(Item.objects.values_list("id", "duplicate_of_id"))
    assert {by_prompt[copy]: by_prompt[original] for original, copy in zip(originals, copies, strict=False)} == {
        item_id: root for item_id, root in roots.items() if root is not None
    }
    stored = bytes(Item.objects.get(id=by_prompt[copies[0]]).minhash)
    assert stored == neardup._signed(set(neardup.shingles(copies[0]))).hashvalues.astype("<u4").tobytes()
    neardup._indexes.clear()
    assert neardup.near_duplicates_of(project, originals[3]) == [by_prompt[originals[3]], by_prompt[copies[3]]]
    assert neardup.index_project(project) == 0


def _priority_after_lowering(queue) -> None:
    from annotation.tasks import lower_priority

    lower_priority()
    lower_priority()
    queue.put(os.getpriority(os.PRIO_PROCESS, 0))


def test_the_indexing_task_runs_at_a_lower_os_priority():
    from annotation.tasks import INDEXING_NICE

    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_priority_after_lowering, args=(queue,))
    child.start()
    child.join()
    assert queue.get(timeout=5) == max(INDEXING_NICE, os.getpriority(os.PRIO_PROCESS, 0))
