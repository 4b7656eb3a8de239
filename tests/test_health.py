"""/healthz answers for the database and the task queue, /version for the code; neither needs a login."""

import secrets
import shutil
import subprocess
import tomllib

import pytest
import redis
import requests
from django.test import Client

from config.health import app_version
from tests.servers import ROOT, gunicorn
from training.pipeline.launch import free_port

DB_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "training"]}}
RQ_QUEUE = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", "training"]}}
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "DEBUG": "False",
    "SECURE_SSL_REDIRECT": "False",
}


def redis_up() -> bool:
    try:
        return redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def fresh_version():
    app_version.cache_clear()
    yield
    app_version.cache_clear()


@pytest.mark.django_db
def test_healthy_with_the_database_queue(settings):
    settings.TASKS = DB_QUEUE
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "queue": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_an_unreachable_redis_fails_the_queue_check(settings):
    settings.TASKS = RQ_QUEUE
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "queue": "failed"}


@pytest.mark.django_db
@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_healthy_with_rq_on_a_live_redis(settings):
    settings.TASKS = RQ_QUEUE
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert Client().get("/healthz").json() == {"database": "ok", "queue": "ok"}


def test_an_unreachable_database_fails_both_checks():
    """PostgreSQL on a closed port: the database and the database queue are both reported, with a 503."""
    with gunicorn({**PRODUCTION, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/quorum"}) as url:
        response = requests.get(f"{url}/healthz", timeout=30)
    assert response.status_code == 503
    assert response.json() == {"database": "failed", "queue": "failed"}


def test_a_database_without_the_task_table_fails_the_queue_check(tmp_path):
    with gunicorn({**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}) as url:
        response = requests.get(f"{url}/healthz", timeout=30)
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "queue": "failed"}


@pytest.mark.django_db
def test_the_probes_are_exempt_from_the_https_redirect(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/version").status_code == 200
    assert client.get("/login/").status_code == 301


@pytest.mark.django_db
def test_the_probes_take_get_and_head_only():
    client = Client()
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.post("/version").status_code == 405


def test_version_names_the_release_and_the_commit(settings, fresh_version):
    settings.GIT_COMMIT = "0123abc"
    response = Client().get("/version")
    assert response.status_code == 200
    release = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert response.json() == {"version": release, "commit": "0123abc"}


def test_version_reads_the_checkout_s_head_without_git_commit(settings, fresh_version):
    settings.GIT_COMMIT = ""
    git = shutil.which("git")
    head = git and subprocess.run([git, "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert Client().get("/version").json()["commit"] == (head or None)


def test_version_never_fails_outside_a_checkout(settings, fresh_version, tmp_path):
    settings.GIT_COMMIT = ""
    settings.BASE_DIR = tmp_path
    response = Client().get("/version")
    assert response.status_code == 200
    assert response.json() == {"version": None, "commit": None}
