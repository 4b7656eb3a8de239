"""Latency of one client on one connection: Django's runserver (`make dev`) against gunicorn (`make run`, with
gunicorn.conf.py), both as `make run` configures them (DEBUG on, SQLite, the database queue), for /healthz and
/login/. http.client keeps the connection open where the server allows it (gunicorn's sync workers close it
after each response, and http.client opens a new one, counted as reconnects).

    .venv/bin/python bench/serving.py [--requests 200]
"""

import argparse
import http.client
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PATHS = ["/healthz", "/login/"]

from training.pipeline.launch import free_port  # noqa: E402


def prepared_env(folder: Path) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SECRET_KEY_FILE"}},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "True",
        "DATABASE_URL": f"sqlite:///{folder / 'serving.sqlite3'}",
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
    }
    for command in (["migrate", "--noinput"], ["createcachetable"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    return env


def server_command(name: str, addr: str) -> list[str]:
    if name == "runserver":
        return [sys.executable, "manage.py", "runserver", addr, "--noreload"]
    return [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), "--bind", addr]


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no server on port {port}")


def measure(port: int, path: str, count: int) -> dict:
    """Milliseconds per request (p50, p95) on one HTTPConnection, after 20 warm-up requests."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, reconnects = [], 0
    for n in range(20 + count):
        reopened = connection.sock is None
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status}")
        if n >= 20:
            times.append(elapsed * 1000)
            reconnects += reopened
    connection.close()
    cuts = statistics.quantiles(times, n=100)
    return {"p50": statistics.median(times), "p95": cuts[94], "reconnects": reconnects}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = prepared_env(Path(folder))
        print(f"{'server':<10} {'path':<9} {'p50 ms':>8} {'p95 ms':>8} {'new connections':>16}")
        for name in ("runserver", "gunicorn"):
            port = free_port()
            server = subprocess.Popen(
                server_command(name, f"127.0.0.1:{port}"),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_up(port)
                for path in PATHS:
                    found = measure(port, path, args.requests)
                    print(f"{name:<10} {path:<9} {found['p50']:>8.2f} {found['p95']:>8.2f} {found['reconnects']:>16}")
            finally:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
