"""Figures for bulk import: 100,000 realistic pairwise items over HTTP, 5,000 per request, and one 5,000-item
`item_import` in process.

Run by hand: `.venv/bin/python bench/import_items.py [--db sqlite|postgres|both] [--items 100000] [--worker]
[--in-flight 1 2]`. The items are bench/workload.py's (a prompt and two responses of 200–600 characters, about
1.2 KB of JSON). For each database and each --in-flight it makes a fresh database of its own, starts gunicorn as
`make run` does (gunicorn.conf.py: sync workers, preloaded), with WEB_CONCURRENCY=2 (with --worker, also the
default-queue task worker as `make run` does, which indexes near-duplicates while the import runs), posts the requests (one at a time, or that many at once, as a
client with two connections would) and prints the seconds from the first request to the last reply and items/s;
then it times one 5,000-item `item_import` in process on a fresh database (--profile: its cProfile).
"""

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from assignment import SETUP, database_url, django_shell, environment  # noqa: E402
from workload import PER_REQUEST, request_bodies  # noqa: E402

PORT = 8772


def fresh(db: str) -> tuple[dict, str]:
    """The environment of a fresh, migrated database with the bench project, and its admin's API token."""
    env = environment(database_url(db, "quorum_bench_import_items"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "createcachetable", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env, django_shell(env, SETUP.format(overlap=3, clients=0))["admin"]


def over_http(db: str, items: int, worker: bool, in_flight: int) -> dict:
    env, token = fresh(db)
    bodies = request_bodies(items)
    env = {**env, "WEB_CONCURRENCY": "2", "BIND": f"127.0.0.1:{PORT}"}
    commands = [[sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]]
    if worker:
        commands.append([sys.executable, "manage.py", "db_worker", "--queue-name", "default", "--no-reload"])
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for command in commands
    ]
    url = f"http://127.0.0.1:{PORT}/api/v1/projects/bench/items/import/"
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/x-ndjson"}
    sessions = [requests.Session() for _ in range(in_flight)]

    def post(at: int) -> None:
        response = sessions[at % in_flight].post(url, data=bodies[at], headers=headers, timeout=120)
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code}: {response.text[:500]}")

    try:
        for _ in range(100):
            try:
                for session in sessions:
                    session.get(f"http://127.0.0.1:{PORT}/api/v1/schema/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(post, range(len(bodies))))
        total = time.perf_counter() - t0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    return {"db": db, "in_flight": in_flight, "total_s": round(total, 2), "items_per_s": round(items / total)}


IN_PROCESS = """
import cProfile, json, pstats, sys, time
sys.path.insert(0, "bench")
from workload import request_bodies
from annotation.item_import import item_import, jsonl_lines
from annotation.models import Project
import io
project = Project.objects.get(slug="bench")
body = request_bodies({per_request}, seed=1)[0]
profiler = cProfile.Profile() if {profile} else None
t0 = time.perf_counter()
if profiler:
    profiler.enable()
item_import(project=project, lines=jsonl_lines(io.BytesIO(body)))
if profiler:
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
"""


def in_process(db: str, profile: bool) -> float:
    env, _ = fresh(db)
    code = IN_PROCESS.format(per_request=PER_REQUEST, profile=profile)
    if profile:
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        print(out.stderr, file=sys.stderr)
        return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]
    return django_shell(env, code)["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--worker", action="store_true", help="run the default-queue task worker beside the server")
    parser.add_argument("--profile", action="store_true", help="print the in-process import's cProfile to stderr")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 2], help="requests sent at once (each a run)")
    args = parser.parse_args()
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        print(f"\n== {db}: {args.items} items, {PER_REQUEST} per request, gunicorn: 2 sync workers ==")
        for in_flight in args.in_flight:
            result = over_http(db, args.items, args.worker, in_flight)
            print(
                f"import over HTTP, {in_flight} request(s) at once: {result['total_s']} s ({result['items_per_s']} items/s)"
            )
            print(json.dumps(result))
        print(f"one {PER_REQUEST}-item item_import in process: {in_process(db, args.profile):.3f} s")


if __name__ == "__main__":
    main()
