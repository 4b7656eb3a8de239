"""Figures for the review queue: server time from a decision posted by htmx to the next panel rendered, p50/p95, at
100,000 items with most of their annotations waiting for review (target p95 < 50 ms); also a skip, a filtered queue
and the first page load.

Run by hand: `.venv/bin/python bench/review_queue.py [--db postgres|sqlite] [--items 100000] [--samples 300]
[--explain]`. Server time is measured in process with Django's test client (the whole request: middleware, auth,
the decision, the next pick, the count, templates), on a fresh database: one annotation per item (40%
demonstrations, 20% refusal cases, 1 in 200 of them flagged by the annotator, 40% preference pairs, a quarter of
them with a better response written), six annotators, 90% of the work pending.
"""

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workspace import configure, p95  # noqa: E402

ANNOTATORS = 6
NEXT = re.compile(r'name="annotation" value="(\d+)"')


def populate(project, annotators, count: int) -> None:
    """COUNT items and one annotation each, written straight to the tables in batches."""
    from django.db import connection
    from django.utils import timezone

    from annotation.models import Annotation, Assignment, Item

    now = timezone.now()
    task_types = ["open_qa", "code", "chat", "summarization", "extraction"]
    batch = 10_000
    for start in range(0, count, batch):
        items = []
        for i in range(start, min(start + batch, count)):
            kind = ("demonstration", "demonstration", "refusal", "preference", "preference")[i % 5]
            extra = {}
            if kind == "refusal":
                extra = {"safety": "should_refuse", "harm_category": "cyber"}
            if kind == "preference":
                extra = {"responses": [{"text": f"A careful answer {i}."}, {"text": f"A sloppy answer {i}."}]}
            items.append(
                Item(
                    project=project,
                    kind=kind,
                    prompt=f"Prompt {i}: explain something to a newcomer.",
                    content_hash=f"bench-{i}",
                    task_type=task_types[i % 5] if kind != "refusal" else "",
                    open_slots=0,
                    completed_count=1,
                    **extra,
                )
            )
        items = Item.objects.bulk_create(items)
        assignments = Assignment.objects.bulk_create(
            [
                Assignment(
                    project=project,
                    item=item,
                    annotator=annotators[item.id % ANNOTATORS],
                    status="submitted",
                    expires_at=now,
                    response_order=[0, 1] if item.kind == "preference" else [],
                )
                for item in items
            ]
        )
        annotations = []
        for item, assignment in zip(items, assignments, strict=True):
            if item.kind == "preference":
                payload = {"choice": 0, "strength": "clear"}
                if item.id % 4 == 0:
                    payload["better_response"] = f"A better answer to {item.id}, written by the annotator."
            else:
                payload = {"response": f"A clear and complete answer for the newcomer, number {item.id}."}
            if item.kind == "refusal":
                payload |= {"refusal_style": "decline_explain", "disagree": item.id // 5 % 200 == 0}
                if payload["disagree"]:
                    payload["disagree_reason"] = "This looks harmless to me."
            status = "accepted" if item.id % 10 == 0 else "pending"
            annotations.append(
                Annotation(
                    project=project,
                    item=item,
                    assignment=assignment,
                    annotator=assignment.annotator,
                    kind=item.kind,
                    payload=payload,
                    preference_score=2 if item.kind == "preference" else None,
                    shown_first=0 if item.kind == "preference" else None,
                    review_status=status,
                )
            )
        Annotation.objects.bulk_create(annotations)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def timed(samples: list[float], call):
    t0 = time.perf_counter()
    response = call()
    samples.append(time.perf_counter() - t0)
    return response


def explain(reviewer) -> None:
    from django.db import connection

    from annotation.models import Membership
    from annotation.review import review_next, review_queue

    membership = Membership.objects.select_related("project", "user").get(user=reviewer)
    queue = review_queue(membership)
    after = queue.first().id
    for label, query in (
        ("next (first)", queue[:1]),
        ("next after a decision", queue.filter(flagged__gt=1)[:1]),
        ("count", queue.values("id")),
    ):
        sql, params = query.query.sql_with_params()
        if label == "count":
            sql = f"SELECT COUNT(*) FROM ({sql}) q"
        with connection.cursor() as cursor:
            prefix = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
            cursor.execute(prefix + sql, params)
            print(f"--- {label}")
            for row in cursor.fetchall():
                print("   ", " ".join(str(part) for part in row))
    review_next(queue, after=after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--explain", action="store_true", help="print the query plans of the queue's queries")
    args = parser.parse_args()
    configure(args.db, name="review", STATIC_ROOT=tempfile.mkdtemp(prefix="quorum-bench-static-"))

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from annotation.models import Annotation, Membership
    from annotation.projects import project_create

    call_command("collectstatic", interactive=False, verbosity=0)
    users = get_user_model().objects
    admin = users.create_user("bench-admin")
    reviewer = users.create_user("bench-reviewer")
    annotators = [users.create_user(f"bench-ann{i}") for i in range(ANNOTATORS)]
    project = project_create(creator=admin, name="Bench", slug="bench", overlap=1)
    Membership.objects.create(project=project, user=reviewer, role="reviewer")
    Membership.objects.bulk_create([Membership(project=project, user=user) for user in annotators])
    started = time.perf_counter()
    populate(project, annotators, args.items)
    pending = Annotation.objects.filter(review_status="pending").count()
    print(
        f"{args.db}: {args.items} items, {Annotation.objects.count()} annotations ({pending} pending) "
        f"written in {time.perf_counter() - started:.1f} s"
    )
    if args.explain:
        explain(reviewer)

    client = Client()
    client.force_login(reviewer)
    figures: dict[str, list[float]] = {
        "first page load": [],
        "decide → next panel": [],
        "  of flagged work (flagged first)": [],
        "  of unflagged work": [],
        "skip → next panel": [],
        "decide → next panel, filtered": [],
    }
    html = timed(figures["first page load"], lambda: client.get("/p/bench/review/")).content.decode()
    shown = int(NEXT.search(html).group(1))
    htmx = {"HTTP_HX_REQUEST": "true"}
    for i in range(args.samples + 20):
        decision = {"annotation": shown, "decision": "accept"}
        if i % 3 == 1:
            decision |= {"decision": "reject", "reason": "unhelpful", "note": "Too short."}
        flagged = "Flagged by the annotator" in html
        samples = []
        response = timed(samples, lambda d=decision: client.post("/p/bench/review/", d, **htmx))
        html = response.content.decode()
        assert response.status_code == 200 and "annotation #" in html, html[:400]
        if i >= 20:
            figures["decide → next panel"] += samples
            figures["  of flagged work (flagged first)" if flagged else "  of unflagged work"] += samples
        shown = int(NEXT.search(html).group(1))
        if i % 10 == 0:
            skip = timed(
                figures["skip → next panel"], lambda s=shown: client.get(f"/p/bench/review/?after={s}", **htmx)
            )
            html = skip.content.decode()
            assert skip.status_code == 200
            shown = int(NEXT.search(html).group(1))
    filtered = "/p/bench/review/?annotator=bench-ann2&kind=refusal"
    shown = int(NEXT.search(client.get(filtered).content.decode()).group(1))
    for _ in range(args.samples // 3):
        response = timed(
            figures["decide → next panel, filtered"],
            lambda s=shown: client.post(filtered, {"annotation": s, "decision": "accept"}, **htmx),
        )
        assert response.status_code == 200, response.content[:400]
        shown = int(NEXT.search(response.content.decode()).group(1))
    for _ in range(10):
        timed(figures["first page load"], lambda: client.get("/p/bench/review/"))
    for name, samples in figures.items():
        if len(samples) < 2:
            continue
        print(
            f"{name:34} p50 {statistics.median(samples) * 1000:6.1f} ms  p95 {p95(samples):6.1f} ms  (n={len(samples)})"
        )
    print("target: decide → next panel p95 < 50 ms")


if __name__ == "__main__":
    main()
