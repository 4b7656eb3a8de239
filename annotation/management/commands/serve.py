import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def worker_commands() -> list[list[str]]:
    """One worker per task queue (README: 'Background work'), on the database queue or, with REDIS_URL, on RQ."""
    if settings.REDIS_URL:
        return [["rqworker", "default"], ["rqworker", "training"]]
    # A code change reloads the default worker under DEBUG; reloading the training worker would kill its run.
    return [["db_worker", "--queue-name", "default"], ["db_worker", "--queue-name", "training", "--no-reload"]]


def web_command(addr: str, dev: bool) -> list[str]:
    """Gunicorn with gunicorn.conf.py, or under --dev Django's server, which reloads on code changes."""
    if dev:
        return [sys.executable, "manage.py", "runserver", addr]
    config = settings.BASE_DIR / "gunicorn.conf.py"
    return [sys.executable, "-m", "gunicorn", "--config", str(config), "--bind", addr]


class Command(BaseCommand):
    help = "Run the web server, the task workers (one per queue) and the scheduler together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--dev", action="store_true", help="Django's development server, reloading on changes.")

    def handle(self, *args, addr, dev, **options):
        manage = [sys.executable, "manage.py"]
        workers = [[*manage, *worker] for worker in worker_commands()]
        commands = [*workers, [*manage, "scheduler"], web_command(addr, dev)]
        # Each child leads a process group of its own, so a stop reaches its children too (gunicorn's workers, the
        # reloader's server); Ctrl-C reaches only this command, which stops them all.
        children = [subprocess.Popen(command, process_group=0) for command in commands]
        self.stdout.write(f"Quorum on http://{addr}/ (API docs at /api/v1/docs/); Ctrl-C stops it.")

        def signal_all(child):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)

        def stop(*_):
            for child in children:
                signal_all(child)

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:  # a worker finishing its task: a second signal forces it
                    signal_all(child)
                    child.wait(timeout=30)
