"""Figures for the foundation: import, next/submit latency, throughput and integrity over real HTTP.

Run by hand (`make bench`, or `.venv/bin/python bench/assignment.py --db sqlite`). For each database it makes a
fresh one, starts gunicorn with 2 workers, imports ITEMS preference items over the API, times next+submit for
one client, then runs CLIENTS processes (each its own user) for DURATION seconds, and counts double
assignments and overlap overshoots straight from the database.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}/api/v1"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def database_url(db: str, name: str = "quorum_bench") -> str:
    """A fresh database called `name` (a bench of its own may run beside the others): a SQLite file under
    bench/results/, or a PostgreSQL database dropped and created anew."""
    if db == "sqlite":
        path = ROOT / "bench" / "results" / f"{name}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def environment(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


SETUP = """
import json, sys
from django.contrib.auth import get_user_model
from annotation.api_tokens import token_create
from annotation.models import Membership
from annotation.projects import project_create
users = get_user_model().objects
admin = users.create_user("bench-admin", is_staff=True)
project = project_create(creator=admin, name="Bench", slug="bench", overlap={overlap})
tokens = {{"admin": token_create(user=admin, name="bench")[1]}}
for i in range({clients} + 1):
    user = users.create_user(f"bench-{{i}}")
    Membership.objects.create(project=project, user=user)
    tokens[f"bench-{{i}}"] = token_create(user=user, name="bench")[1]
print(json.dumps(tokens))
"""

INTEGRITY = """
import json
from django.db.models import Count, F
from annotation.models import Annotation, Assignment, Item
doubles = Assignment.objects.values("item", "annotator").annotate(n=Count("id")).filter(n__gt=1).count()
counts = Annotation.objects.values("item").annotate(n=Count("id"))
overshoot = counts.filter(n__gt={overlap}).count()
print(json.dumps({{"annotations": Annotation.objects.count(), "double_assignments": doubles, "overshoots": overshoot}}))
"""


def django_shell(env: dict, code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


PER_REQUEST = 5000  # an import over HTTP takes at most 50,000 lines


def items_jsonl(start: int, stop: int) -> bytes:
    lines = (
        json.dumps(
            {
                "kind": "preference",
                "prompt": f"Which answer to question {i} is better?",
                "task_type": "open_qa",
                "responses": [{"text": f"Answer A to {i}", "source": "model:a"}, {"text": f"Answer B to {i}"}],
            }
        )
        for i in range(start, stop)
    )
    return "\n".join(lines).encode()


class Client:
    """A keep-alive HTTP client on http.client: light, so the 2-core box spends its time on the server."""

    def __init__(self, token: str, port: int = PORT):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        self.connection.request("POST", f"/api/v1{path}", json.dumps(body or {}), self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{path}: {response.status} {data[:300]!r}")
        return response.status, json.loads(data) if data else None


def annotate_once(client: Client) -> tuple[float, float] | None:
    t0 = time.perf_counter()
    status, assignment = client.post("/projects/bench/assignments/next/")
    t1 = time.perf_counter()
    if status == 204:
        return None
    choice = assignment["item"]["responses"][0]["id"]
    body = {"client_id": str(uuid.uuid4()), "payload": {"choice": choice, "strength": "clear"}}
    client.post(f"/assignments/{assignment['id']}/submit/", body)
    return t1 - t0, time.perf_counter() - t1


def client_loop(token: str, duration: float, results) -> None:
    client = Client(token)
    done = 0
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline and annotate_once(client) is not None:
        done += 1
    results.put(done)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def run(db: str, args) -> dict:
    env = environment(database_url(db))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    tokens = django_shell(env, SETUP.format(overlap=args.overlap, clients=args.clients))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{PORT}",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"{BASE}/schema/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        bodies = [
            items_jsonl(start, min(start + PER_REQUEST, args.items)) for start in range(0, args.items, PER_REQUEST)
        ]
        t0 = time.perf_counter()
        for body in bodies:
            response = requests.post(
                f"{BASE}/projects/bench/items/import/",
                data=body,
                headers={"Authorization": f"Token {tokens['admin']}", "Content-Type": "application/x-ndjson"},
                timeout=300,
            )
            response.raise_for_status()
        import_s = time.perf_counter() - t0

        single = Client(tokens[f"bench-{args.clients}"])
        for _ in range(20):
            annotate_once(single)  # warm-up
        nexts, submits = [], []
        for _ in range(args.samples):
            next_s, submit_s = annotate_once(single)
            nexts.append(next_s)
            submits.append(submit_s)

        results = multiprocessing.Queue()
        procs = [
            multiprocessing.Process(target=client_loop, args=(tokens[f"bench-{i}"], args.duration, results))
            for i in range(args.clients)
        ]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        done = sum(results.get() for _ in procs)
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait()
    integrity = django_shell(env, INTEGRITY.format(overlap=args.overlap))
    return {
        "db": db,
        "import_s": round(import_s, 2),
        "next_ms": {q: round(percentile(nexts, q), 1) for q in (50, 95, 99)},
        "submit_ms": {q: round(percentile(submits, q), 1) for q in (50, 95, 99)},
        "next_plus_submit_p95_ms": round(percentile([a + b for a, b in zip(nexts, submits, strict=True)], 95), 1),
        "annotations_per_s": round(done / elapsed, 1),
        **integrity,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        result = run(db, args)
        print(f"\n== {db}: {args.items} items, overlap {args.overlap}, gunicorn {args.workers} workers ==")
        print(f"import over HTTP:            {result['import_s']} s")
        for name in ("next", "submit"):
            p50, p95, p99 = (result[f"{name}_ms"][q] for q in (50, 95, 99))
            print(f"{name:<6} p50/p95/p99 (1 client): {p50} / {p95} / {p99} ms")
        print(f"next+submit p95:             {result['next_plus_submit_p95_ms']} ms")
        print(f"{args.clients} clients:                   {result['annotations_per_s']} annotations/s")
        print(f"double assignments:          {result['double_assignments']}")
        print(f"overlap overshoots:          {result['overshoots']}")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
