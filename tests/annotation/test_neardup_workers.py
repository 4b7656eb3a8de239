"""Several task workers index the same project at once, each in its own process with its own LSH index: every item
is signed once and the clusters are those of the exact near-duplicate relation (the data keeps every pair far from
the threshold, so LSH finds them all)."""

import multiprocessing
import random

import pytest
from django.db import connections

from annotation import neardup
from annotation.models import Item

WORKERS = 3


def _index_in_a_process(project, start, results) -> None:
    neardup._indexes.clear()
    start.wait()
    try:
        results.put(neardup.index_project(project))
    finally:
        connections.close_all()


def _exact_roots(items: list[Item]) -> dict[int, int]:
    """{item id: its component's earliest id} for the items in a component of two or more, from the exact pairs."""
    root = {item.id: item.id for item in items}

    def find(item_id: int) -> int:
        while root[item_id] != item_id:
            item_id = root[item_id]
        return item_id

    for i, j in neardup.similar_pairs([item.prompt for item in items]):
        a, b = sorted((find(items[i].id), find(items[j].id)))
        root[b] = a
    return {item.id: find(item.id) for item in items if find(item.id) != item.id}


@pytest.mark.django_db(transaction=True)
def test_workers_indexing_a_project_at_once_sign_each_item_once_and_agree_on_clusters(project, make_items, monkeypatch):
    rng = random.Random(16)
    texts = [" ".join(f"v{rng.randrange(50_000)}" for _ in range(80)) for _ in range(240)]
    for _ in range(120):  # near-copies of earlier texts, and of near-copies: chains that merge clusters
        words = rng.choice(texts).split()
        words[rng.randrange(len(words))] = f"x{rng.randrange(1000)}"
        texts.append(" ".join(words))
    rng.shuffle(texts)
    monkeypatch.setattr("annotation.item_import.index_later", lambda project: None)
    items = make_items(project, [{"kind": "demonstration", "prompt": text} for text in texts])
    monkeypatch.setattr(neardup, "_BATCH", 8)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results, start = context.Queue(), context.Barrier(WORKERS)
    workers = [context.Process(target=_index_in_a_process, args=(project, start, results)) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    signed = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert sum(signed) == len(items)
    assert not Item.objects.filter(minhash__isnull=True).exists()
    roots = dict(Item.objects.filter(duplicate_of__isnull=False).values_list("id", "duplicate_of_id"))
    assert roots == _exact_roots(items)
    assert len(roots) >= 100
