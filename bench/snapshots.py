"""Figures for dataset snapshots: an aggregated DPO snapshot from 1,000,000 preference judgments over 330,000
items, its time and peak memory, against a naive baseline (load every annotation into Python, json.dump) run
on the same database in the same run. Each build runs in a fresh child process so its peak memory is its own.

Run by hand: `.venv/bin/python bench/snapshots.py [--items 330000] [--judgments 1000000] [--db sqlite|postgres]`.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def seed(items: int, judgments: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from annotation.item_import import item_import
    from annotation.models import Annotation, Assignment, Item, Membership
    from annotation.projects import project_create

    rng = random.Random(11)
    users_model = get_user_model().objects
    admin = users_model.create_user("bench-admin")
    project = project_create(creator=admin, name="Bench", slug="bench", overlap=3)
    judges = [users_model.create_user(f"judge-{i}") for i in range(30)]
    Membership.objects.bulk_create(Membership(project=project, user=user) for user in judges)
    lines = [
        json.dumps(
            {
                "kind": "preference",
                "prompt": f"Question {i}: which answer explains topic {rng.randint(0, 10**6)} better?",
                "task_type": rng.choice(["open_qa", "reasoning", "code", "summarization"]),
                "responses": [{"text": f"A careful answer {i} " * 4}, {"text": f"A sloppy answer {i}"}],
            }
        )
        for i in range(items)
    ]
    for start in range(0, items, 100_000):  # an import takes at most 200,000 lines
        item_import(project=project, lines=lines[start : start + 100_000])
    del lines
    ids = list(Item.objects.filter(project=project).values_list("id", flat=True))
    now = timezone.now()
    per_item = judgments // len(ids)
    extra = judgments - per_item * len(ids)
    batch_a, batch_b = [], []
    for n, item_id in enumerate(ids):
        for k in range(per_item + (1 if n < extra else 0)):
            judge = judges[(n + 7 * k) % len(judges)]
            score = rng.choice([3, 2, 2, 1, -1, 0])
            batch_a.append(
                Assignment(
                    project=project,
                    item_id=item_id,
                    annotator=judge,
                    status="submitted",
                    expires_at=now,
                    response_order=[0, 1],
                )
            )
            batch_b.append((item_id, judge.id, score))
        if len(batch_a) >= 20000 or n == len(ids) - 1:
            Assignment.objects.bulk_create(batch_a, batch_size=5000)
            pairs = {
                (item, person): pk
                for pk, item, person in Assignment.objects.filter(item_id__in={a.item_id for a in batch_a}).values_list(
                    "id", "item_id", "annotator_id"
                )
            }
            Annotation.objects.bulk_create(
                (
                    Annotation(
                        project=project,
                        item_id=item,
                        assignment_id=pairs[item, person],
                        annotator_id=person,
                        kind="preference",
                        payload={"choice": "tie"}
                        if score == 0
                        else {
                            "choice": 0 if score > 0 else 1,
                            "strength": ["slight", "clear", "strong"][abs(score) - 1],
                        },
                        preference_score=score,
                        shown_first=0,
                    )
                    for item, person, score in batch_b
                ),
                batch_size=5000,
            )
            batch_a, batch_b = [], []
    Item.objects.filter(project=project).update(completed_count=3, open_slots=0)
    connection.close()


def build_ours(out: str) -> None:
    from annotation.models import Project
    from training.snapshots.build import build_snapshot
    from training.snapshots.config import snapshot_config

    config = snapshot_config({"include_sft": False, "eval_fraction": 0.05})
    result = build_snapshot(Project.objects.get(slug="bench"), config, Path(out))
    print(json.dumps(result.counts["rows"]))


def build_naive(out: str) -> None:
    """What a script around the ORM typically does: everything into memory, group, json.dump."""
    from annotation.models import Annotation, Item

    items = {item.id: item for item in Item.objects.filter(project__slug="bench")}
    votes: dict[int, list] = {}
    for annotation in Annotation.objects.filter(project__slug="bench", kind="preference"):
        votes.setdefault(annotation.item_id, []).append(annotation.payload)
    rows = []
    for item_id, payloads in votes.items():
        wins = [p["choice"] for p in payloads if p["choice"] != "tie"]
        if not wins:
            continue
        winner = max(set(wins), key=wins.count)
        item = items[item_id]
        rows.append(
            {
                "prompt": [{"role": "user", "content": item.prompt}],
                "chosen": [{"role": "assistant", "content": item.responses[winner]["text"]}],
                "rejected": [{"role": "assistant", "content": item.responses[1 - winner]["text"]}],
            }
        )
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / "dpo.json", "w") as handle:
        json.dump(rows, handle)
    print(json.dumps({"dpo": len(rows)}))


def child(mode: str, out: str) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--out", out],
        env=os.environ,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - t0
    *_, rows, peak = result.stdout.strip().splitlines()
    return elapsed, json.loads(peak)["peak_mb"], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--items", type=int, default=330_000)
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["ours", "naive"])
    parser.add_argument("--out")
    args = parser.parse_args()
    from workspace import configure

    if args.child:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        (build_ours if args.child == "ours" else build_naive)(args.out)
        print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    configure(args.db)
    t0 = time.perf_counter()
    seed(args.items, args.judgments)
    print(f"{args.db}: seeded {args.judgments} judgments over {args.items} items in {time.perf_counter() - t0:.0f} s")
    from annotation.models import Project
    from annotation.neardup import index_project

    t0 = time.perf_counter()
    index_project(Project.objects.get(slug="bench"))  # what the worker does after each import
    print(
        f"near-duplicate indexing of every item (the worker's job, before any snapshot): {time.perf_counter() - t0:.1f} s"
    )
    results_dir = ROOT / "bench" / "results"
    ours = child("ours", str(results_dir / "snapshot-ours"))
    print(f"Quorum snapshot (streamed, JSONL + Parquet + card): {ours[0]:.1f} s, peak {ours[1]:.0f} MB, {ours[2]}")
    naive = child("naive", str(results_dir / "snapshot-naive"))
    print(f"naive baseline (load all, group, json.dump): {naive[0]:.1f} s, peak {naive[1]:.0f} MB, {naive[2]}")
    print(f"ratio naive/ours: time {naive[0] / ours[0]:.2f}x, peak memory {naive[1] / ours[1]:.2f}x")


if __name__ == "__main__":
    main()
