"""Figures for the annotator workspace: server time of the annotate page and of the submit-and-next swap, and the
bytes of JS and CSS the annotate page ships (gzipped).

Run by hand: `.venv/bin/python bench/workspace.py [--db sqlite|postgres] [--items 100000] [--samples 300]`.
Server time is measured in process with Django's test client (the whole request: middleware, auth, the
assignment engine, templates), on a fresh database holding ITEMS items of every kind.
"""

import argparse
import gzip
import json
import os
import re
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(db: str, name: str = "ws", **env: str) -> None:
    """A fresh, migrated database for a bench script (SQLite file or PostgreSQL database named after `name`), with
    production settings plus `env`."""
    if db == "sqlite":
        path = ROOT / "bench" / "results" / f"quorum_bench_{name}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS quorum_bench_{name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE quorum_bench_{name}")
        url = f"postgres://postgres@127.0.0.1:5432/quorum_bench_{name}"
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_urlsafe(64),
        DEBUG="False",
        SECURE_SSL_REDIRECT="False",
        ALLOWED_HOSTS="testserver",
        DJANGO_SETTINGS_MODULE="config.settings",
        **env,
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def rows(count: int):
    kinds = [
        lambda i: {"kind": "demonstration", "prompt": f"Explain topic {i} to a newcomer.", "task_type": "open_qa"},
        lambda i: {
            "kind": "refusal",
            "prompt": f"Harmful request {i}",
            "safety": "should_refuse",
            "harm_category": "cyber",
        },
        lambda i: {
            "kind": "preference",
            "prompt": f"Which answer to {i} is better?",
            "responses": [{"text": f"A careful answer to {i}."}, {"text": f"A sloppy answer to {i}."}],
        },
    ]
    return (json.dumps(kinds[i % 3](i)) for i in range(count))


PAYLOAD = {
    "demonstration": {"response": "A clear and complete answer for the newcomer."},
    "refusal": {"response": "I can't help with that, but here is a safer option.", "refusal_style": "safe_alternative"},
    "preference": {"choice": "left", "strength": "clear"},
}


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94] * 1000


def static_bytes(html: str) -> tuple[int, int]:
    assets = re.findall(r'<script src="/static/([^"]+)"', html) + re.findall(
        r'<link rel="stylesheet" href="/static/([^"]+)"', html
    )
    from django.conf import settings

    raw = zipped = 0
    for asset in assets:  # the collected, hashed files the page names (DEBUG is off)
        data = (Path(settings.STATIC_ROOT) / asset).read_bytes()
        raw += len(data)
        zipped += len(gzip.compress(data, compresslevel=9))
    return raw, zipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    configure(args.db)

    from django.contrib.auth import get_user_model
    from django.test import Client

    from annotation.item_import import item_import
    from annotation.models import Membership
    from annotation.projects import project_create

    users = get_user_model().objects
    admin = users.create_user("bench-admin")
    annotator = users.create_user("bench-annotator")
    project = project_create(creator=admin, name="Bench", slug="bench", overlap=3)
    Membership.objects.create(project=project, user=annotator)
    started = time.perf_counter()
    item_import(project=project, lines=rows(args.items))
    print(f"{args.db}: {args.items} items imported in {time.perf_counter() - started:.1f} s")

    client = Client()
    client.force_login(annotator)
    page_times, swap_times = [], []
    html = ""
    for i in range(args.samples + 20):
        t0 = time.perf_counter()
        response = client.get("/p/bench/annotate/")
        elapsed = time.perf_counter() - t0
        assert response.status_code == 200
        html = response.content.decode()
        assignment = int(re.search(r"/p/bench/annotate/(\d+)/submit/", html).group(1))
        kind = re.search(r'data-kind="(\w+)"', html).group(1)
        data = {"client_id": str(uuid.uuid4()), **PAYLOAD[kind]}
        t0 = time.perf_counter()
        swap = client.post(f"/p/bench/annotate/{assignment}/submit/", data, HTTP_HX_REQUEST="true")
        swap_elapsed = time.perf_counter() - t0
        assert swap.status_code == 200 and "Submitted." in swap.content.decode(), swap.content[:500]
        if i >= 20:
            page_times.append(elapsed)
            swap_times.append(swap_elapsed)
    raw, zipped = static_bytes(html)
    for name, samples in (("annotate page", page_times), ("submit-and-next swap", swap_times)):
        print(f"{name}, server time p50/p95: {statistics.median(samples) * 1000:.1f} / {p95(samples):.1f} ms")
    print(f"JS + CSS shipped to the annotate page: {raw / 1024:.1f} KiB raw, {zipped / 1024:.1f} KiB gzipped")


if __name__ == "__main__":
    main()
