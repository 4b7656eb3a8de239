"""Figures for the data browser: server time of `/p/<slug>/data/` at 100,000 items with their annotations, for no
filter, each filter alone, a search, each sort and a late page.

Run by hand: `.venv/bin/python bench/data_browser.py [--db postgres|sqlite] [--items 100000] [--samples 30]`.
Server time is measured in process with Django's test client (the whole request, warm), on a fresh database: items
of every kind (40% demonstrations, 10% refusals, 50% preference pairs), six annotators, about two annotations per
item (reviews accepted, rejected or pending; pairs agreeing, split or judged once), 1% excluded, 0.5% gold, a
hundred live leases, creation dates over 90 days. Target: p95 < 100 ms for every case.
"""

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workspace import configure, p95  # noqa: E402

WORDS = [f"{a}{b}{c}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to") for b in "aeiou" for c in "lmnrst"]
RARE = "zygomorphic"
ANNOTATORS = 6


def rows(count: int, rng: random.Random):
    import json

    task_types = ["open_qa", "code", "chat", "summarization", "extraction"]
    domains = ["medicine", "law", "finance", "software", "travel"]
    for i in range(count):
        words = " ".join(rng.sample(WORDS, 6)) + (f" {RARE}" if i % 10_000 == 7 else "")
        base = {"task_type": task_types[i % 5], "domain": domains[(i // 5) % 5]}
        if i % 10 < 4:
            yield json.dumps({"kind": "demonstration", "prompt": f"Explain {words} ({i})", **base})
        elif i % 10 == 4:
            yield json.dumps(
                {
                    "kind": "refusal",
                    "prompt": f"Harmful {words} ({i})",
                    "safety": "should_refuse",
                    "harm_category": "cyber",
                }
            )
        else:
            responses = [{"text": f"Answer one about {words}"}, {"text": f"Answer two about {words} {i}"}]
            yield json.dumps(
                {"kind": "preference", "prompt": f"Which is better: {words} ({i})?", "responses": responses}
            )


def populate(project, users, rng: random.Random) -> None:
    """About two annotations per item, written straight to the tables; then the items' counts, leases, dates."""
    from django.db import connection
    from django.utils import timezone

    from annotation.models import Annotation, Assignment, Item

    now = timezone.now()
    items = list(Item.objects.filter(project=project).values_list("id", "kind").order_by("id"))
    assignments, annotations = [], []
    for item_id, kind in items:
        n = rng.choice([0, 1, 2, 2, 3]) if item_id % 7 else 0
        for annotator in rng.sample(users, n):
            assignments.append(
                Assignment(
                    project=project,
                    item_id=item_id,
                    annotator=annotator,
                    status="submitted",
                    expires_at=now,
                    response_order=[0, 1] if kind == "preference" else [],
                )
            )
            if kind == "preference":
                choice = rng.choice([0, 0, 0, 1, "tie"])
                score = 0 if choice == "tie" else (2 if choice == 0 else -2)
                payload = {"choice": choice, "strength": "clear"} if choice != "tie" else {"choice": "tie"}
                annotations.append((item_id, annotator, kind, payload, score, "pending"))
            else:
                payload = {"response": f"A response by {annotator.username}: {' '.join(rng.sample(WORDS, 8))}"}
                review = rng.choice(["accepted", "accepted", "rejected", "pending"])
                annotations.append((item_id, annotator, kind, payload, None, review))
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    Annotation.objects.bulk_create(
        [
            Annotation(
                project=project,
                item_id=item_id,
                assignment=assignment,
                annotator=annotator,
                kind=kind,
                payload=payload,
                preference_score=score,
                review_status=review,
            )
            for assignment, (item_id, annotator, kind, payload, score, review) in zip(
                assignments, annotations, strict=True
            )
        ],
        batch_size=5000,
    )
    free = [item_id for item_id, _ in items if item_id % 7 == 0][:100]
    Assignment.objects.bulk_create(
        [
            Assignment(
                project=project, item_id=item_id, annotator=users[0], expires_at=now + timezone.timedelta(hours=1)
            )
            for item_id in free
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotation_item SET completed_count = "
            "(SELECT COUNT(*) FROM annotation_annotation a WHERE a.item_id = annotation_item.id)"
        )
        cursor.execute("UPDATE annotation_item SET open_slots = GREATEST(0, 3 - completed_count)")
        if connection.vendor == "postgresql":
            cursor.execute("UPDATE annotation_item SET created_at = NOW() - (id % 90) * INTERVAL '1 day'")
        else:
            cursor.execute("UPDATE annotation_item SET created_at = datetime('now', '-' || (id % 90) || ' days')")
    Item.objects.filter(project=project, id__in=[i for i, _ in items if i % 100 == 3]).update(excluded_reason="bench")
    pairs = [i for i, kind in items if kind == "preference" and i % 200 == 6]
    Item.objects.filter(id__in=pairs).update(is_gold=True, gold={"choice": 0})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def reuse() -> None:
    import secrets

    os.environ.update(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/quorum_bench_ws",
        SECRET_KEY=secrets.token_urlsafe(64),
        DEBUG="False",
        SECURE_SSL_REDIRECT="False",
        ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    import django

    django.setup()


CASES = [
    ("no filter", ""),
    ("kind", "kind=refusal"),
    ("task type", "task_type=code"),
    ("domain", "domain=law"),
    ("status open", "status=open"),
    ("status in progress", "status=in_progress"),
    ("status complete", "status=complete"),
    ("status excluded", "status=excluded"),
    ("status gold", "status=gold"),
    ("annotator", "annotator=bench-ann3"),
    ("agreement unanimous", "agreement=unanimous"),
    ("agreement split", "agreement=split"),
    ("agreement single", "agreement=single"),
    ("review pending", "review_status=pending"),
    ("review accepted", "review_status=accepted"),
    ("review rejected", "review_status=rejected"),
    ("gold no", "gold=no"),
    ("created range", "created_from={from}&created_to={to}"),
    ("search, rare word", f"q={RARE}"),
    ("search, common word", "q=explain"),
    ("search, a word in responses", "q=answer two"),
    ("search, a word in annotations", "q=response by bench-ann2"),
    ("search, sorted by date", "q=explain&sort=-created"),
    ("sort -id", "sort=-id"),
    ("sort created", "sort=created"),
    ("sort -completed", "sort=-completed"),
    ("sort task type", "sort=task_type"),
    ("sort -kind", "sort=-kind"),
    ("late page", "page=200"),
    ("late page, sorted", "page=150&sort=-created"),
    ("filters combined", "kind=preference&agreement=split&annotator=bench-ann1&sort=-created"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="time the database the last postgres run left")
    args = parser.parse_args()
    if args.reuse:
        reuse()
    else:
        configure(args.db)

    import datetime

    from django.contrib.auth import get_user_model
    from django.test import Client

    from annotation.item_import import item_import
    from annotation.models import Annotation, Membership
    from annotation.projects import project_create

    rng = random.Random(7)
    users = get_user_model().objects
    started = time.perf_counter()
    if not args.reuse:
        admin = users.create_user("bench-admin")
        annotators = [users.create_user(f"bench-ann{i}") for i in range(ANNOTATORS)]
        project = project_create(creator=admin, name="Bench", slug="bench", overlap=3)
        Membership.objects.bulk_create([Membership(project=project, user=user) for user in annotators])
        item_import(project=project, lines=rows(args.items, rng))
        populate(project, annotators, rng)
    admin = users.get(username="bench-admin")
    print(
        f"{args.db}: {args.items} items, {Annotation.objects.count()} annotations "
        f"made in {time.perf_counter() - started:.1f} s"
    )
    today = datetime.date.today()
    dates = {"from": today - datetime.timedelta(days=20), "to": today - datetime.timedelta(days=10)}

    client = Client()
    client.force_login(admin)
    worst = 0.0
    for name, query in CASES:
        url = f"/p/bench/data/?{query.format(**dates)}"
        samples = []
        for i in range(args.samples + 3):
            t0 = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - t0
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
            if i >= 3:
                samples.append(elapsed)
        html = response.content.decode()
        shown = html.count('name="item" value=')
        matched = re.search(r"<h1>Data <span class=\"muted\">\(([^)]*)\)", html).group(1)
        worst = max(worst, p95(samples))
        print(
            f"{name:30} p50 {statistics.median(samples) * 1000:6.1f} ms  p95 {p95(samples):6.1f} ms"
            f"  ({matched}, {shown} shown)"
        )
    print(f"worst p95: {worst:.1f} ms (target < 100 ms)")


if __name__ == "__main__":
    main()
