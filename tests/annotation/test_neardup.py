"""Batched near-duplicate indexing: the same signatures as datasketch's MinHash (stored ones stay valid), the same
clusters however the items fall into batches, and the indexing task's lower OS priority."""

import gc
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
    for text in [*texts(100), "snake_case 42 x-1", "Tab\tand\nnewline"]:
        words = neardup._WORD.findall(text.casefold())
        runs = [words[i : i + 3] for i in range(len(words) - 2)] or [words]
        assert neardup.shingles(text) == [" ".join(run).encode() for run in runs], text


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


@pytest.mark.django_db
def test_indexing_pauses_the_cyclic_collector_and_gives_it_back_even_when_it_fails(project, make_items, monkeypatch):
    monkeypatch.setattr("annotation.item_import.index_later", lambda project: None)
    make_items(project, [{"kind": "demonstration", "prompt": text} for text in texts(20)[:20]])
    seen = []
    real = neardup._near_pairs

    def matching(*args):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("the worker was stopped")
        return real(*args)

    monkeypatch.setattr(neardup, "_BATCH", 10)
    monkeypatch.setattr(neardup, "_near_pairs", matching)
    with pytest.raises(RuntimeError):
        neardup.index_project(project)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        assert neardup.index_project(project) == 10 and not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


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


def _racing(monkeypatch, meanwhile) -> None:
    """Run `meanwhile` (another indexer's or an admin's work) once, while the first batch is matched."""
    matched = neardup._near_pairs
    pending = [meanwhile]

    def match(batch, index, known):
        while pending:
            pending.pop()()
        return matched(batch, index, known)

    monkeypatch.setattr(neardup, "_near_pairs", match)


@pytest.mark.django_db
@pytest.mark.parametrize("meanwhile", ["the batch being matched", "a later batch"])
def test_a_batch_matches_what_another_indexer_signed_while_it_was_matched(project, make_items, monkeypatch, meanwhile):
    """A batch is matched before the write lock; what another indexer signs meanwhile is matched under it, or, when
    it signed the batch itself, by the batches after it."""
    rng = random.Random(8)
    originals = [" ".join(f"t{rng.randrange(10_000)}" for _ in range(120)) for _ in range(10)]
    copies = [text.replace(text.split()[60], "changed", 1) for text in originals]
    monkeypatch.setattr("annotation.item_import.index_later", lambda project: None)
    monkeypatch.setattr(neardup, "_BATCH", len(copies))
    first = originals + copies if meanwhile == "the batch being matched" else copies + originals
    items = make_items(project, [{"kind": "demonstration", "prompt": text} for text in first])
    rival = items[: len(copies)] if meanwhile == "the batch being matched" else items[len(copies) :]

    def another_indexer_signs():
        values = neardup.signatures([neardup.shingles(item.prompt) for item in rival])
        neardup._save_signed([(item.id, [], row.tobytes()) for item, row in zip(rival, values, strict=True)], [])

    _racing(monkeypatch, another_indexer_signs)
    assert neardup.index_project(project) == len(copies)
    roots = dict(Item.objects.filter(duplicate_of__isnull=False).values_list("id", "duplicate_of_id"))
    assert roots == {later.id: earlier.id for earlier, later in zip(items, items[len(copies) :], strict=False)}


@pytest.mark.django_db
def test_an_item_deleted_while_its_batch_was_matched_links_nothing(project, make_items, monkeypatch):
    """b is a near-duplicate of a and of c, which are not near-duplicates of each other: once b is deleted, a and c
    are in no cluster, though b was in their batch when it was matched."""
    words = [f"w{n}" for n in range(120)]
    a = " ".join(words)
    b = " ".join("b" if n in range(10, 60, 10) else word for n, word in enumerate(words))
    c = " ".join("c" if n in range(60, 110, 10) else word for n, word in enumerate(b.split()))
    sets = [set(neardup.shingles(text)) for text in (a, b, c)]
    assert min(neardup.jaccard(sets[0], sets[1]), neardup.jaccard(sets[1], sets[2])) >= neardup.THRESHOLD
    assert neardup.jaccard(sets[0], sets[2]) < neardup.THRESHOLD
    monkeypatch.setattr("annotation.item_import.index_later", lambda project: None)
    items = make_items(project, [{"kind": "demonstration", "prompt": text} for text in (a, b, c)])
    _racing(monkeypatch, Item.objects.filter(id=items[1].id).delete)
    assert neardup.index_project(project) == 2
    assert not Item.objects.filter(duplicate_of__isnull=False).exists()
