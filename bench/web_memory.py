"""Memory of one web worker: the resident set (VmRSS) of a gunicorn worker serving production settings, after it
started and after warm requests to the login page and to an annotate page as a logged-in annotator.

Run by hand: `.venv/bin/python bench/web_memory.py [--requests 20]`. It builds a small project in a fresh SQLite
database under bench/results/ and serves it with `gunicorn config.wsgi --workers 1` (DEBUG off, static collected).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


def configure(static_root: Path) -> dict[str, str]:
    database = RESULTS / "web_memory.sqlite3"
    RESULTS.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(static_root),
        "MEDIA_ROOT": str(static_root.parent / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return env


def session_for(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def sessions() -> tuple[str, str]:
    """A project with a few items of two kinds; session keys of its admin and of an annotator in it."""
    from django.contrib.auth import get_user_model

    from annotation.item_import import item_import
    from annotation.models import Membership
    from annotation.projects import project_create

    users = get_user_model().objects
    admin = users.create_user("bench-admin")
    annotator = users.create_user("bench-annotator")
    project = project_create(creator=admin, name="Bench", slug="bench")
    Membership.objects.create(project=project, user=annotator)
    rows = [{"kind": "demonstration", "prompt": f"Explain topic {i}.", "task_type": "open_qa"} for i in range(5)] + [
        {"kind": "preference", "prompt": f"Which is better, {i}?", "responses": [{"text": "A"}, {"text": "B"}]}
        for i in range(5)
    ]
    item_import(project=project, lines=[json.dumps(row) for row in rows])
    return session_for(admin), session_for(annotator)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_pid(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{url}/static/quorum.css", timeout=30)
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20, help="warm requests to each page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = configure(Path(tmp) / "static")
        admin_key, annotator_key = sessions()
        from training.pipeline.launch import free_port

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_up(url, process)
            worker = worker_pid(process.pid)
            print(f"worker after start (a static file served): {rss_kib(worker) / 1024:.1f} MiB")
            anonymous = requests.Session()
            for _ in range(args.requests):
                assert anonymous.get(f"{url}/login/", timeout=30).status_code == 200
            print(f"after {args.requests} × /login/: {rss_kib(worker) / 1024:.1f} MiB")
            annotator = requests.Session()
            annotator.cookies.set("sessionid", annotator_key)
            for _ in range(args.requests):
                page = annotator.get(f"{url}/p/bench/annotate/", timeout=30, allow_redirects=False)
                assert page.status_code == 200 and "task-form" in page.text, page.status_code
            print(f"after {args.requests} × /p/bench/annotate/ (logged in): {rss_kib(worker) / 1024:.1f} MiB")
            for _ in range(args.requests):
                assert annotator.get(f"{url}/", timeout=30).status_code == 200
            print(f"after {args.requests} × / (my projects): {rss_kib(worker) / 1024:.1f} MiB (target < 90 MiB)")
            admin = requests.Session()
            admin.cookies.set("sessionid", admin_key)
            agreement = admin.get(f"{url}/p/bench/quality/agreement/", timeout=60)
            assert agreement.status_code == 200, (agreement.status_code, agreement.text[:300])
            print(f"after an admin's agreement page (metrics computed): {rss_kib(worker) / 1024:.1f} MiB")
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
