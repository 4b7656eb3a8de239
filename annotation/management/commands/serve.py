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


class Command(BaseCommand):
    help = "Run the web server, the task workers (one per queue) and the scheduler together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        manage = [sys.executable, "manage.py"]
        children = [subprocess.Popen([*manage, *worker]) for worker in worker_commands()]
        children.append(subprocess.Popen([*manage, "scheduler"]))
        children.append(subprocess.Popen([*manage, "runserver", addr, "--noreload"]))
        self.stdout.write(f"Quorum on http://{addr}/ (API docs at /api/v1/docs/); Ctrl-C stops it.")

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()

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
                    child.terminate()
                    child.wait(timeout=30)
