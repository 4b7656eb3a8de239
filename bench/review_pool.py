"""The next-task pick when model_review items are in play: per pick, with the share drawn against (other kinds first)
and for (model_review first), in a project with 20,000 open demonstrations, 20,000 closed comparison items from
past cycles and 20 open ones, on SQLite. The closed ones must not slow the pick down.

    .venv/bin/python bench/review_pool.py [--closed 20000] [--picks 200]
"""

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--closed", type=int, default=20_000)
    parser.add_argument("--picks", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(
            DATABASE_URL=f"sqlite:///{folder}/bench.sqlite3",
            SECRET_KEY=secrets.token_urlsafe(64),
            DEBUG="False",
            DJANGO_SETTINGS_MODULE="config.settings",
        )
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection, transaction

        from annotation import assignment
        from annotation.models import Item
        from annotation.projects import project_create
        from annotation.queues import EVERYTHING

        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench")
        project = project_create(creator=user, name="Bench", slug="bench", overlap=2)
        pair = [{"text": "a"}, {"text": "b"}]
        items = [
            Item(project=project, kind="demonstration", prompt=f"d{i}", content_hash=f"d{i}", open_slots=2)
            for i in range(20_000)
        ]
        items += [
            Item(
                project=project,
                kind="model_review",
                prompt=f"c{i}",
                content_hash=f"c{i}",
                open_slots=0,
                completed_count=2,
                responses=pair,
            )
            for i in range(args.closed)
        ]
        items += [
            Item(
                project=project, kind="model_review", prompt=f"o{i}", content_hash=f"o{i}", open_slots=2, responses=pair
            )
            for i in range(20)
        ]
        Item.objects.bulk_create(items, batch_size=2000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"20,000 open demonstrations, {args.closed:,} closed and 20 open model_review items")
        for share, label in ((0.0, "other kinds first"), (1.0, "model_review first")):
            project.model_review_share = share
            started = time.perf_counter()
            for _ in range(args.picks):
                with transaction.atomic():  # the pick takes a slot: each is rolled back, so all pick alike
                    picked = assignment._pick(project, user, gold=False, queue=EVERYTHING)
                    transaction.set_rollback(True)
            took = (time.perf_counter() - started) / args.picks
            print(f"{label}: {took * 1000:.2f} ms per pick (the last: {picked.kind})")


if __name__ == "__main__":
    main()
