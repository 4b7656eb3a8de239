"""`make run`'s serve command: gunicorn (or, with --dev, Django's reloading server), workers and scheduler; a stop
ends every process it started, their own children included."""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.servers import ROOT
from training.pipeline.launch import free_port


@pytest.fixture(scope="module")
def serve_env(tmp_path_factory):
    """The environment `make run` gives serve, on a migrated SQLite file of its own."""
    folder = tmp_path_factory.mktemp("serve")
    dropped = {"DJANGO_SETTINGS_MODULE", "REDIS_URL", "SECRET_KEY_FILE", "QUORUM_TEST_DB", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "True",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, timeout=300)
    return env


def descendants(pid: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_health(url: str, process: subprocess.Popen) -> requests.Response:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            response = requests.get(f"{url}/healthz", timeout=10)
            if response.status_code == 200:
                return response
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"serve did not become healthy (exit code {process.poll()})")


@pytest.mark.parametrize(
    ("flags", "server", "stop"),
    [([], "gunicorn", signal.SIGINT), (["--dev"], "WSGIServer", signal.SIGTERM)],
    ids=["run-ctrl-c", "dev-sigterm"],
)
def test_serve_starts_the_web_server_and_stops_every_process(serve_env, flags, server, stop):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--addr", f"127.0.0.1:{port}", *flags],
        cwd=ROOT,
        env=serve_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = wait_for_health(url, process)
        assert health.json() == {"database": "ok", "queue": "ok"}
        assert health.headers["Server"].startswith(server)
        assert requests.get(f"{url}/static/quorum.css", timeout=10).status_code == 200
        started = descendants(process.pid)
        # gunicorn's master and workers (or the reloader and its server), two task workers, the scheduler
        assert len(started) >= 5, started
        process.send_signal(stop)
        process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in started if alive(pid)]
    finally:
        for pid in [*descendants(process.pid), process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()
