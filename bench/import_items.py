"""Figures for bulk import: 100,000 realistic pairwise items over HTTP, 5,000 per request, and one 5,000-item
`item_import` in process.

Run by hand: `.venv/bin/python bench/import_items.py [--db sqlite|postgres|both] [--items 100000] [--worker]`.
Each item is a preference with a prompt and two responses of 200–600 characters of seeded random words (about
1.2 KB of JSON). For each database it makes a fresh one of its own, starts gunicorn with 2 workers as
bench/assignment.py does (with --worker, also the default-queue task worker as `make run` does, which indexes
near-duplicates while the import runs), posts the requests one after another and prints the total seconds and
items/s; then it times one 5,000-item `item_import` in process on a fresh database (--profile: its cProfile).
"""

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from assignment import SETUP, database_url, django_shell, environment  # noqa: E402

PORT = 8772
PER_REQUEST = 5000
SEED = 16
_WORDS = random.Random(0)
VOCABULARY = sorted(
    {"".join(_WORDS.choices("abcdefghijklmnopqrstuvwxyz", k=_WORDS.randint(2, 9))) for _ in range(5000)}
)


def _text(rng: random.Random) -> str:
    words = " ".join(rng.choices(VOCABULARY, k=120))
    return words[: words.rfind(" ", 0, rng.randint(200, 600))].capitalize() + "."


def requests_jsonl(items: int, seed: int = SEED) -> list[bytes]:
    """The import as request bodies of PER_REQUEST lines: pairwise items of seeded text, every one distinct."""
    rng = random.Random(seed)
    lines = [
        json.dumps(
            {
                "kind": "preference",
                "prompt": _text(rng),
                "task_type": "open_qa",
                "responses": [{"text": _text(rng), "source": "model:a"}, {"text": _text(rng), "source": "model:b"}],
                "meta": {"client_id": f"c-{i}"},
            }
        )
        for i in range(items)
    ]
    return ["\n".join(lines[start : start + PER_REQUEST]).encode() for start in range(0, items, PER_REQUEST)]


def fresh(db: str) -> tuple[dict, str]:
    """The environment of a fresh, migrated database with the bench project, and its admin's API token."""
    env = environment(database_url(db, "quorum_bench_import_items"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "createcachetable", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env, django_shell(env, SETUP.format(overlap=3, clients=0))["admin"]


def over_http(db: str, items: int, worker: bool) -> dict:
    env, token = fresh(db)
    bodies = requests_jsonl(items)
    gunicorn = [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "2", "-k", "gthread", "--threads", "4"]
    commands = [[*gunicorn, "-b", f"127.0.0.1:{PORT}", "--timeout", "120"]]
    if worker:
        commands.append([sys.executable, "manage.py", "db_worker", "--queue-name", "default", "--no-reload"])
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for command in commands
    ]
    url = f"http://127.0.0.1:{PORT}/api/v1/projects/bench/items/import/"
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/x-ndjson"}
    try:
        with requests.Session() as session:
            for _ in range(100):
                try:
                    session.get(f"http://127.0.0.1:{PORT}/api/v1/schema/", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.2)
            seconds = []
            for body in bodies:
                t0 = time.perf_counter()
                response = session.post(url, data=body, headers=headers, timeout=120)
                seconds.append(time.perf_counter() - t0)
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    total = sum(seconds)
    return {"db": db, "items": items, "total_s": round(total, 2), "items_per_s": round(items / total)}


IN_PROCESS = """
import cProfile, json, pstats, sys, time
sys.path.insert(0, "bench")
from import_items import requests_jsonl
from annotation.item_import import item_import, jsonl_lines
from annotation.models import Project
import io
project = Project.objects.get(slug="bench")
body = requests_jsonl({per_request}, seed=1)[0]
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
    args = parser.parse_args()
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        result = over_http(db, args.items, args.worker)
        result["in_process_5000_s"] = round(in_process(db, args.profile), 3)
        print(f"\n== {db}: {args.items} items, {PER_REQUEST} per request, gunicorn 2 workers ==")
        print(f"import over HTTP:                {result['total_s']} s ({result['items_per_s']} items/s)")
        print(f"one {PER_REQUEST}-item item_import in process: {result['in_process_5000_s']} s")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
