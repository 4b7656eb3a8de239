"""Figures for near-duplicate indexing: worker CPU to sign and cluster 100,000 realistic prompts, and (with
--under-load) the 8-client next→submit p95 idle and while those prompts are indexed by a niced task worker.

Run by hand: `.venv/bin/python bench/indexing.py [--items 100000] [--under-load [--repeat 5]]`.
The items are bench/workload.py's, imported as an import request leaves them (5% of the prompts are near-copies, so
clusters are real). The CPU figure is this process's CPU time (SQLite runs in process, so its work counts too) for
`index_project` on a fresh SQLite database. Under load, gunicorn (2 workers) serves the clients of
bench/assignment.py and the indexing runs as `make run` runs it: the `near_duplicates_index` task in
`db_worker --queue-name default`.
"""

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from assignment import SETUP, Client, annotate_once, django_shell, environment  # noqa: E402
from workload import request_bodies  # noqa: E402

PORT = 8771


def seed_items(project_slug: str, count: int) -> None:
    """Import `count` items of the shared workload into the project, unsigned, as an import leaves them."""
    from annotation.item_import import item_import
    from annotation.models import Project

    project = Project.objects.get(slug=project_slug)
    for body in request_bodies(count):
        item_import(project=project, lines=body.split(b"\n"))


SEED = """
import sys
sys.path.insert(0, "bench")
from indexing import seed_items
seed_items("bench", {count})
print("{{}}")
"""

INDEX = """
import json, resource, time
from annotation import neardup
from annotation.models import Item, Project
project = Project.objects.get(slug="bench")
t0, c0 = time.perf_counter(), time.process_time()
signed = neardup.index_project(project)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
clustered = Item.objects.filter(project=project, duplicate_of__isnull=False).count()
print(json.dumps({{"signed": signed, "cpu_s": cpu, "wall_s": wall, "clustered": clustered}}))
"""


def fresh_database() -> dict:
    """Environment for a fresh SQLite database of this bench's own (other benches may run beside it)."""
    path = ROOT / "bench" / "results" / "quorum_bench_indexing.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = environment(f"sqlite:///{path}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env


def indexing_cpu(args) -> dict:
    env = fresh_database()
    django_shell(env, _setup(clients=0))
    django_shell(env, SEED.format(count=args.items))
    return django_shell(env, INDEX.format())


def _setup(clients: int) -> str:
    return SETUP.format(overlap=3, clients=clients)


def _p95_loop(tokens: dict, clients: int, duration: float) -> list[float]:
    """next+submit times of `clients` processes for `duration` seconds."""
    results = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_timed_loop, args=(tokens[f"bench-{i}"], duration, results))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    times = [t for _ in procs for t in results.get()]
    for p in procs:
        p.join()
    return times


def _timed_loop(token: str, duration: float, results) -> None:
    client = Client(token, PORT)
    times = []
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline and (pair := annotate_once(client)) is not None:
        times.append(sum(pair))
    results.put(times)


ENQUEUE = """
from annotation.models import Project
from annotation.tasks import near_duplicates_index
near_duplicates_index.enqueue(Project.objects.get(slug="bench").id)
print("{}")
"""

UNSIGNED = """
import json
from annotation.models import Item
print(json.dumps({"unsigned": Item.objects.filter(minhash__isnull=True).count()}))
"""


UNSIGN = """
from annotation.models import Item
Item.objects.update(minhash=None, duplicate_of=None)
print("{}")
"""


def under_load(args) -> list[dict]:
    """Each of `args.repeat` rounds: the loop idle, then while a fresh task worker indexes every prompt anew."""
    env = fresh_database()
    tokens = django_shell(env, _setup(clients=args.clients))
    django_shell(env, SEED.format(count=args.items))
    gunicorn = [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "2", "-k", "gthread", "--threads", "4"]
    server = subprocess.Popen(
        [*gunicorn, "-b", f"127.0.0.1:{PORT}", "--timeout", "120"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        for _ in range(20):
            annotate_once(Client(tokens[f"bench-{args.clients}"], PORT))
        return [_round(env, tokens, args) for _ in range(args.repeat)]
    finally:
        server.terminate()
        server.wait()


def _round(env: dict, tokens: dict, args) -> dict:
    django_shell(env, UNSIGN)
    idle = _p95_loop(tokens, args.clients, args.duration)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "default", "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # the worker's own start-up is no part of indexing
        django_shell(env, ENQUEUE)
        time.sleep(1)
        t0 = time.perf_counter()
        loaded = _p95_loop(tokens, args.clients, args.duration)
        while django_shell(env, UNSIGNED)["unsigned"]:
            time.sleep(0.5)
        index_s = time.perf_counter() - t0
    finally:
        worker.terminate()
        worker.wait()
    idle_p95, loaded_p95 = (statistics.quantiles(times, n=20)[18] * 1000 for times in (idle, loaded))
    return {
        "idle_p95_ms": round(idle_p95, 1),
        "indexing_p95_ms": round(loaded_p95, 1),
        "ratio": round(loaded_p95 / idle_p95, 3),
        "idle_requests": len(idle),
        "indexing_requests": len(loaded),
        "indexing_done_after_s": round(index_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--under-load", action="store_true", help="also the 8-client p95, idle and while indexing")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=5, help="rounds of idle then indexing, for a median")
    args = parser.parse_args()
    result = indexing_cpu(args)
    rate = result["signed"] / result["cpu_s"]
    print(f"indexing {result['signed']} prompts: {result['cpu_s']:.1f} s CPU ({rate:,.0f} prompts/s), ", end="")
    print(f"{result['wall_s']:.1f} s wall, {result['clustered']} in clusters")
    if args.under_load:
        rounds = under_load(args)
        for load in rounds:
            print(f"{args.clients}-client next+submit p95: {load['idle_p95_ms']} ms idle, ", end="")
            print(f"{load['indexing_p95_ms']} ms while indexing ({load['ratio']:.0%} of idle)")
            print(json.dumps(load))
        median = statistics.median(load["ratio"] for load in rounds)
        print(f"median over {len(rounds)} rounds: {median:.0%} of idle (target: at most 120%)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
