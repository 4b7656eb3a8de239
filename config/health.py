"""Probes for load balancers and deploy scripts, without login: /healthz and /version."""

import functools
import logging
import shutil
import subprocess
import tomllib

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2


def database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def queue_check() -> None:
    """RQ: Redis answers a ping. The database queue: its table can be read. Inline backends have nothing to reach."""
    backend = settings.TASKS["default"]["BACKEND"]
    if backend == "django_tasks_rq.RQBackend":
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
        )
        with client:
            client.ping()
    elif backend == "django_tasks_db.DatabaseBackend":
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.exists()


CHECKS = {"database": database_check, "queue": queue_check}


@never_cache
@require_safe
def healthz(request):
    """200 {"database": "ok", "queue": "ok"}, or 503 with "failed" for each check that did not pass."""
    found = {}
    for name, check in CHECKS.items():
        try:
            check()
            found[name] = "ok"
        except Exception:
            logger.warning("Health check %r failed", name, exc_info=True)
            found[name] = "failed"
    return JsonResponse(found, status=200 if set(found.values()) == {"ok"} else 503)


@functools.cache
def app_version() -> dict[str, str | None]:
    """The version in pyproject.toml and the commit (GIT_COMMIT, else the checkout's HEAD); None where unknown."""
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as file:
            version = tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = None
    return {"version": version, "commit": settings.GIT_COMMIT or _git_head()}


def _git_head() -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        found = subprocess.run(
            [git, "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


@never_cache
@require_safe
def version(request):
    return JsonResponse(app_version())
