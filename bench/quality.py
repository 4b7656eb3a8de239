"""Figures for review and consistency: agreement and per-annotator metrics over 100,000 pairwise items with three
judgments each, the near-duplicate index over 100,000 prompts (build and query), and the overview page.

Run by hand: `.venv/bin/python bench/quality.py [--db sqlite|postgres] [--items 100000]`.
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from workspace import configure  # noqa: E402

WORDS = [
    "explain",
    "compare",
    "summarise",
    "describe",
    "list",
    "write",
    "translate",
    "classify",
    "why",
    "how",
    "what",
    "when",
    "which",
    "model",
    "data",
    "river",
    "economy",
    "history",
    "language",
    "music",
    "physics",
    "garden",
    "recipe",
    "city",
    "travel",
    "health",
    "law",
    "contract",
    "privacy",
    "network",
    "code",
    "function",
    "database",
    "planet",
    "ocean",
    "forest",
    "energy",
    "market",
    "school",
    "teacher",
    "novel",
    "poem",
    "story",
    "letter",
    "email",
    "report",
]


def prompts(count: int, rng: random.Random):
    made = []
    for i in range(count):
        if made and rng.random() < 0.05:
            base = rng.choice(made[-1000:])
            made.append(f"{base} please {i}")  # a near-duplicate
        else:
            made.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))) + f" case {i}")
    return made


def seed(project, users, count: int, rng: random.Random) -> None:
    from django.db import connection
    from django.utils import timezone

    from annotation.item_import import item_import
    from annotation.models import Annotation, Assignment, Item

    lines = (
        json.dumps(
            {"kind": "preference", "prompt": text, "responses": [{"text": "short"}, {"text": "a longer answer"}]}
        )
        for text in prompts(count, rng)
    )
    item_import(project=project, lines=lines)
    now = timezone.now()
    item_ids = list(Item.objects.filter(project=project).values_list("id", flat=True))
    assignments, annotations = [], []
    for n, item_id in enumerate(item_ids):
        for k in range(3):
            user = users[(n + k * 5) % len(users)]
            order = rng.sample([0, 1], 2)
            quality = user.id % 4  # 0: careful, 1: noisy, 2: always left, 3: ties a lot
            if quality == 2:
                choice = order[0]
            elif quality == 3 and rng.random() < 0.5:
                choice = "tie"
            else:
                choice = 1 if rng.random() < (0.85 if quality == 0 else 0.6) else 0
            score = 0 if choice == "tie" else (2 if choice == 0 else -2)
            assignments.append(
                Assignment(
                    project=project,
                    item_id=item_id,
                    annotator=user,
                    status="submitted",
                    expires_at=now,
                    response_order=order,
                )
            )
            annotations.append((item_id, user, choice, score, order[0], rng.randint(1500, 60000)))
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    ids = dict(
        ((a.item_id, a.annotator_id), a.id)
        for a in Assignment.objects.filter(project=project).only("id", "item_id", "annotator_id")
    )
    Annotation.objects.bulk_create(
        (
            Annotation(
                project=project,
                item_id=item_id,
                assignment_id=ids[(item_id, user.id)],
                annotator=user,
                kind="preference",
                payload={"choice": choice, **({} if choice == "tie" else {"strength": "clear"})},
                preference_score=score,
                shown_first=first,
                time_spent_ms=ms,
            )
            for item_id, user, choice, score, first, ms in annotations
        ),
        batch_size=5000,
    )
    Item.objects.filter(project=project).update(completed_count=3, open_slots=0)
    connection.close()


def timed(fn, repeat=1):
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return result, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    configure(args.db)

    from django.contrib.auth import get_user_model
    from django.test import Client

    from annotation.metrics.project import pairwise_metrics
    from annotation.models import Membership
    from annotation.neardup import index_project, near_duplicates_of
    from annotation.projects import project_create

    rng = random.Random(7)
    users_model = get_user_model().objects
    admin = users_model.create_user("bench-admin")
    project = project_create(creator=admin, name="Bench", slug="bench", overlap=3)
    users = [users_model.create_user(f"judge-{i}") for i in range(12)]
    Membership.objects.bulk_create(Membership(project=project, user=user) for user in users)
    t0 = time.perf_counter()
    seed(project, users, args.items, rng)
    print(f"{args.db}: seeded {args.items} pairwise items × 3 judgments in {time.perf_counter() - t0:.0f} s")

    metrics, samples = timed(lambda: pairwise_metrics(project), repeat=3)
    print(
        f"agreement + per-annotator metrics over {metrics['judgments']} judgments: "
        f"{min(samples):.2f} s best of 3 (alpha nominal {metrics['alpha_nominal']:.3f}, "
        f"{sum(bool(a['flags']) for a in metrics['annotators'])} of {len(metrics['annotators'])} annotators flagged)"
    )

    from annotation import neardup

    neardup._indexes.clear()
    signed, samples = timed(lambda: index_project(project))
    print(f"near-duplicate index: {signed} prompts signed and clustered in {samples[0]:.1f} s")
    neardup._indexes.clear()
    _, samples = timed(lambda: near_duplicates_of(project, "warm up"))
    print(f"  a fresh process loads the stored signatures in {samples[0]:.1f} s")
    queries = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(200)]
    times = [timed(lambda q=q: near_duplicates_of(project, q))[1][0] for q in queries]
    p50, p95 = statistics.median(times) * 1000, statistics.quantiles(times, n=20)[18] * 1000
    print(f"  query p50/p95: {p50:.1f} / {p95:.1f} ms")

    client = Client()
    client.force_login(admin)
    _, cold = timed(lambda: client.get("/p/bench/quality/"))
    _, warm = timed(lambda: client.get("/p/bench/quality/"), repeat=10)
    print(f"overview page: {cold[0] * 1000:.0f} ms first, {statistics.median(warm) * 1000:.0f} ms median of 10")
    _, summary = timed(lambda: client.get("/p/bench/quality/summary/"), repeat=3)
    cold_ms, cached_ms = summary[0] * 1000, min(summary[1:]) * 1000
    print(f"agreement panel (loaded after the page): {cold_ms:.0f} ms cold, {cached_ms:.0f} ms cached")


if __name__ == "__main__":
    main()
