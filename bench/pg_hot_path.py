"""The annotators' hot path at scale: next-task and submit latency over HTTP with 100,000 realistic items.

Run by hand: `.venv/bin/python bench/pg_hot_path.py [--db sqlite|postgres|both] [--items N] [--samples N]`.
For each database it makes a fresh one (PostgreSQL: `quorum_hot_path` on 127.0.0.1:5432), imports ITEMS of
bench/workload.py's items in process (a prompt and two responses of 200-600 characters each, about 1.2 KB of JSON)
then VACUUMs and ANALYZEs them and writes a checkpoint, as autovacuum and the checkpointer would soon after an
import (so the timings are of the settled database, not of the import's aftermath), starts gunicorn with 2 workers
on a free port as bench/assignment.py does, and times next then submit for one client on a kept-alive connection.
Target (issue 16): p95 of each under 6 ms.
"""

import argparse
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests
from assignment import Client, database_url, environment, percentile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from training.pipeline.launch import free_port  # noqa: E402

TARGET_P95_MS = 6.0

SEED = """
import json, sys
sys.path.insert(0, "bench")
from django.contrib.auth import get_user_model
from django.db import connection
from annotation.api_tokens import token_create
from annotation.item_import import item_import
from annotation.models import Membership
from annotation.projects import project_create
from workload import request_bodies

users = get_user_model().objects
admin = users.create_user("bench-admin", is_staff=True)
project = project_create(creator=admin, name="Hot path", slug="bench", overlap=3)
annotator = users.create_user("bench-annotator")
Membership.objects.create(project=project, user=annotator)
for body in request_bodies({items}):
    item_import(project=project, lines=body.split(b"\\n"), by=admin)
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
print(json.dumps({{"token": token_create(user=annotator, name="bench")[1]}}))
"""


def seeded(env: dict, items: int) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED.format(items=items)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["token"]


def timed_pair(client: Client) -> tuple[float, float]:
    t0 = time.perf_counter()
    _, assignment = client.post("/projects/bench/assignments/next/")
    t1 = time.perf_counter()
    choice = assignment["item"]["responses"][0]["id"]
    body = {"client_id": secrets.token_hex(16), "payload": {"choice": choice, "strength": "clear"}}
    client.post(f"/assignments/{assignment['id']}/submit/", body)
    return t1 - t0, time.perf_counter() - t1


def run(db: str, args) -> dict:
    env = environment(database_url(db, "quorum_hot_path"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    token = seeded(env, args.items)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(args.workers), "-k", "gthread", "--threads", "4"]
        + ["-b", f"127.0.0.1:{port}", "--timeout", "120"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        client = Client(token, port=port)
        for _ in range(args.warmup):
            timed_pair(client)
        pairs = [timed_pair(client) for _ in range(args.samples)]
    finally:
        server.terminate()
        server.wait()
    nexts, submits = zip(*pairs, strict=True)
    return {
        "db": db,
        "items": args.items,
        "next_ms": {q: round(percentile(list(nexts), q), 2) for q in (50, 95, 99)},
        "submit_ms": {q: round(percentile(list(submits), q), 2) for q in (50, 95, 99)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        result = run(db, args)
        print(f"\n== {db}: {args.items} items, gunicorn {args.workers} workers, one client ==")
        for name in ("next", "submit"):
            p50, p95, p99 = (result[f"{name}_ms"][q] for q in (50, 95, 99))
            verdict = "ok" if p95 < TARGET_P95_MS else f"over the {TARGET_P95_MS:g} ms target"
            print(f"{name:<6} p50/p95/p99: {p50} / {p95} / {p99} ms  ({verdict})")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
