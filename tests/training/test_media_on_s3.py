"""Media on S3-compatible storage (the cluster setup in docs/deployment.md), against a local S3 server (moto's):
background imports and snapshot files are written to the bucket and read back from it."""

import json
import os
import secrets
import subprocess
import sys
import time
import uuid

import boto3
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotation.import_jobs import import_job_create, import_job_start
from annotation.models import Item, ItemImportJob
from tests.conftest import api_key
from tests.servers import ROOT
from tests.training.conftest import build
from training.pipeline.launch import free_port

pytestmark = pytest.mark.django_db

S3_BACKEND = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"file_overwrite": False}}


@pytest.fixture(scope="module")
def s3_server():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, timeout=2)
            break
        except requests.RequestException:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("the local S3 server did not start") from None
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def bucket(s3_server, settings, monkeypatch):
    """A new bucket, made the default storage the way config/settings.py does with AWS_STORAGE_BUCKET_NAME."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
    name = f"quorum-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    settings.AWS_STORAGE_BUCKET_NAME = name
    settings.AWS_S3_ENDPOINT_URL = s3_server
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.STORAGES = {**settings.STORAGES, "default": S3_BACKEND}

    def keys(prefix: str) -> list[str]:
        return sorted(found["Key"] for found in client.list_objects_v2(Bucket=name, Prefix=prefix).get("Contents", []))

    return keys


def test_a_background_import_goes_through_the_bucket(bucket, project, users, django_capture_on_commit_callbacks):
    rows = [{"kind": "demonstration", "prompt": f"Explain topic {n}"} for n in range(3)]
    body = "\n".join(json.dumps(row) for row in rows).encode()
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(project=project, by=users["admin"], upload=SimpleUploadedFile("items.jsonl", body))
    job.refresh_from_db()
    assert job.status == ItemImportJob.Status.CHECKED, job.report
    assert bucket("imports/") == [job.upload.name]
    with django_capture_on_commit_callbacks(execute=True):
        import_job_start(job=job, by=users["admin"])
    assert sorted(Item.objects.values_list("prompt", flat=True)) == [row["prompt"] for row in rows]
    job.refresh_from_db()
    assert job.created_ids.name in bucket("imports/")


def test_a_snapshot_is_written_to_and_served_from_the_bucket(bucket, judged, users, django_capture_on_commit_callbacks):
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks)
    stored = bucket(f"{snapshot.folder}/")
    assert f"{snapshot.folder}/card.json" in stored and f"{snapshot.folder}/sft.train.jsonl" in stored
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['reviewer'])}")
    card = client.get(f"/api/v1/snapshots/{snapshot.id}/files/card.json")
    assert card.status_code == 200
    assert json.loads(b"".join(card.streaming_content))["content_hash"] == snapshot.content_hash


def test_the_environment_selects_the_bucket():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "AWS_STORAGE_BUCKET_NAME": "media-bucket",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    }
    code = (
        "from django.core.files.storage import default_storage as s; "
        "print(s.__class__.__name__, s.bucket_name, s.endpoint_url, s.file_overwrite)"
    )
    found = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.stdout.split() == ["S3Storage", "media-bucket", "http://127.0.0.1:9000", "False"], found.stderr
