"""Background imports: upload, check (a dry run) and import as tasks, with progress, created ids and meta, the
permissions of the pages and the API, and jobs that die or find the project changed."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation import import_jobs
from annotation.import_jobs import _ProgressWriter, import_job_create, import_job_start, job_run
from annotation.item_import import item_import
from annotation.models import AuditEvent, Item, ItemImportJob
from annotation.project_settings import project_archive
from annotation.projects import project_create
from tests.annotation.test_api import client_for
from tests.conftest import login

pytestmark = pytest.mark.django_db

ROWS = [
    {"kind": "demonstration", "prompt": "Summarise this.", "task_type": "summarization", "meta": {"ref": "a"}},
    {"kind": "refusal", "prompt": "How do locks work?", "safety": "should_comply", "meta": {"ref": "b"}},
]
Status = ItemImportJob.Status


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def upload(rows, name="items.jsonl", raw: str | None = None):
    body = raw if raw is not None else "\n".join(json.dumps(row) for row in rows) + "\n"
    return SimpleUploadedFile(name, body.encode(), content_type="application/x-ndjson")


@pytest.fixture
def checked(project, users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(project=project, by=users["admin"], upload=upload(ROWS))
    job.refresh_from_db()
    return job


def test_an_admin_uploads_sees_the_dry_run_and_imports_in_the_browser(
    project, users, browser_client, django_capture_on_commit_callbacks
):
    token = login(browser_client, users["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_client.post(
            "/p/demo/import/", {"file": upload(ROWS), "csrfmiddlewaretoken": token}, follow=False
        )
    job = ItemImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/p/demo/import/{job.id}/"
    assert not Item.objects.exists()
    page = browser_client.get(f"/p/demo/import/{job.id}/")
    assert page.status_code == 200
    assert b"Import 2 items" in page.content and b"summarization" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        started = browser_client.post(f"/p/demo/import/{job.id}/start/", {"csrfmiddlewaretoken": token})
    assert started.status_code == 302
    done = browser_client.get(f"/p/demo/import/{job.id}/")
    assert b"Created 2 items." in done.content and b"/p/demo/data/" in done.content
    download = browser_client.get(f"/p/demo/import/{job.id}/created/")
    created = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    ids = {item.meta["ref"]: item.id for item in Item.objects.all()}
    assert created == [
        {"line": 1, "id": ids["a"], "meta": {"ref": "a"}},
        {"line": 2, "id": ids["b"], "meta": {"ref": "b"}},
    ]
    assert AuditEvent.objects.get(action="items.import").target == f"import {job.id}: items.jsonl"
    assert b"items.jsonl" in browser_client.get("/p/demo/import/").content


def test_a_bad_upload_is_refused_and_keeps_the_form(project, users, browser_client):
    token = login(browser_client, users["admin"])
    response = browser_client.post("/p/demo/import/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 422 and b"choose a JSONL file" in response.content
    empty = browser_client.post("/p/demo/import/", {"file": upload([], raw=""), "csrfmiddlewaretoken": token})
    assert empty.status_code == 422 and not ItemImportJob.objects.exists()


def test_the_check_reports_bad_lines_and_an_invalid_job_cannot_start(
    project, users, django_capture_on_commit_callbacks
):
    raw = json.dumps(ROWS[0]) + "\n{broken\n" + json.dumps(ROWS[0]) + "\n"
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(project=project, by=users["admin"], upload=upload([], raw=raw))
    job.refresh_from_db()
    assert job.status == Status.INVALID and job.progress == 1.0
    assert job.report["errors"] == [{"line": 2, "field": "", "message": job.report["errors"][0]["message"]}]
    assert job.report["duplicates"] == [{"line": 3, "of_line": 1}]
    response = client_for(users["admin"]).post(f"/api/v1/imports/{job.id}/start/")
    assert response.status_code == 409 and "invalid" in response.json()["detail"]


def test_progress_is_written_per_phase_and_the_ids_file_has_line_id_and_meta(
    checked, users, monkeypatch, django_capture_on_commit_callbacks
):
    seen = []
    write = _ProgressWriter.__call__

    def record(self, phase, fraction, *, force=False):
        write(self, phase, fraction, force=True)
        row = ItemImportJob.objects.get(id=self.job.id)
        seen.append((row.report["phase"], row.progress))

    monkeypatch.setattr(_ProgressWriter, "__call__", record)
    import_job_start(job=checked, by=users["admin"])
    assert job_run(checked.id) == Status.DONE
    phases = [phase for phase, _ in seen]
    assert phases[0] == "validating" and "inserting" in phases and phases[-1] == "writing ids"
    assert [fraction for _, fraction in seen] == sorted(fraction for _, fraction in seen)
    job = ItemImportJob.objects.get(id=checked.id)
    assert job.status == Status.DONE and job.progress == 1.0 and job.created_count == 2 and "phase" not in job.report
    with job.created_ids.open("rb") as handle:
        lines = [json.loads(line) for line in handle.read().splitlines()]
    assert [(line["line"], line["meta"]) for line in lines] == [(1, {"ref": "a"}), (2, {"ref": "b"})]
    assert {line["id"] for line in lines} == set(Item.objects.values_list("id", flat=True))


def test_progress_writes_are_throttled(checked):
    writer = _ProgressWriter(checked, Status.CHECKED, {})
    for i in range(100):
        writer("validating", i / 100)
    checked.refresh_from_db()
    assert checked.progress == 0.0 and checked.report["phase"] == "validating"


def test_items_added_after_the_check_fail_the_import_clearly(checked, users):
    item_import(project=checked.project, lines=[json.dumps(ROWS[1])])
    existing = Item.objects.get()
    import_job_start(job=checked, by=users["admin"])
    assert job_run(checked.id) == Status.FAILED
    checked.refresh_from_db()
    assert checked.status == Status.FAILED
    assert f"line 2: duplicate of existing item {existing.id}" in checked.error
    assert "upload the file again" in checked.error and Item.objects.count() == 1


def test_a_file_changed_after_the_check_fails_the_import(checked, users):
    with open(checked.upload.path, "ab") as handle:
        handle.write(b'{"kind": "demonstration", "prompt": "sneaked in"}\n')
    import_job_start(job=checked, by=users["admin"])
    assert job_run(checked.id) == Status.FAILED
    checked.refresh_from_db()
    assert "changed since the check" in checked.error and not Item.objects.exists()


def test_start_is_refused_unless_checked_and_only_once(checked, users):
    import_job_start(job=checked, by=users["admin"])
    admin = client_for(users["admin"])
    again = admin.post(f"/api/v1/imports/{checked.id}/start/")
    assert again.status_code == 409 and "importing" in again.json()["detail"]
    assert admin.get(f"/api/v1/imports/{checked.id}/created/").status_code == 409


def test_an_archived_project_refuses_uploads_and_starts(checked, project, users, browser_client):
    project_archive(project=project, by=users["admin"])
    admin = client_for(users["admin"])
    assert admin.post(f"/api/v1/imports/{checked.id}/start/").status_code == 409
    refused = admin.post("/api/v1/projects/demo/imports/", {"file": upload(ROWS)}, format="multipart")
    assert refused.status_code == 409 and "archived" in refused.json()["detail"]
    token = login(browser_client, users["admin"])
    page = browser_client.post("/p/demo/import/", {"file": upload(ROWS), "csrfmiddlewaretoken": token})
    assert page.status_code == 409 and b"archived" in page.content
    assert ItemImportJob.objects.count() == 1


def test_a_job_whose_worker_died_is_marked_failed_on_the_next_look(checked, users):
    import_job_start(job=checked, by=users["admin"])
    old = timezone.now() - timedelta(seconds=import_jobs.IMPORT_STALE_AFTER_S + 1)
    waiting = ItemImportJob.objects.create(project=checked.project, filename="queued.jsonl", upload="imports/x.jsonl")
    ItemImportJob.objects.filter(id=waiting.id).update(updated_at=old)
    ItemImportJob.objects.filter(id=checked.id).update(report={**checked.report, "phase": "inserting"}, updated_at=old)
    body = client_for(users["admin"]).get(f"/api/v1/imports/{checked.id}/").json()
    assert body["status"] == "failed" and "worker stopped reporting" in body["error"]
    assert ItemImportJob.objects.get(id=waiting.id).status == Status.CHECKING
    assert job_run(checked.id) == "skipped"


def test_a_poll_of_a_healthy_job_writes_nothing(checked, users):
    import_job_start(job=checked, by=users["admin"])
    client = client_for(users["admin"])
    client.get(f"/api/v1/imports/{checked.id}/")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/v1/imports/{checked.id}/").json()["status"] == "importing"
    assert not [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]


def test_the_api_flow_returns_the_job_report_and_created_ids(project, users, django_capture_on_commit_callbacks):
    admin = client_for(users["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        created = admin.post("/api/v1/projects/demo/imports/", {"file": upload(ROWS)}, format="multipart")
    assert created.status_code == 202 and created.json()["status"] == "checking"
    job_id = created.json()["id"]
    body = admin.get(f"/api/v1/imports/{job_id}/").json()
    assert body["status"] == "checked" and body["report"]["valid"] == 2 and "sha256" not in body["report"]
    assert body["report"]["by_task_type"] == {"summarization": 1, "": 1} and body["created_ids_url"] is None
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(f"/api/v1/imports/{job_id}/start/").status_code == 202
    body = admin.get(f"/api/v1/imports/{job_id}/").json()
    assert body["status"] == "done" and body["created_count"] == 2 and body["progress"] == 1.0
    download = admin.get(body["created_ids_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    assert [line["meta"] for line in lines] == [{"ref": "a"}, {"ref": "b"}]
    missing = admin.post("/api/v1/projects/demo/imports/", {}, format="multipart")
    assert missing.status_code == 400 and missing.json()["field"] == "file"


@pytest.mark.parametrize(
    ("who", "expected"), [("ann1", 403), ("reviewer", 403), ("outsider", 404), ("other_admin", 404)]
)
def test_only_admins_of_the_jobs_project_see_or_act_on_it(checked, users, browser_client, who, expected):
    if who == "other_admin":
        project_create(creator=users["outsider"], name="Other", slug="other")
        who = "outsider"
    api = client_for(users[who])
    job = checked.id
    assert api.get(f"/api/v1/imports/{job}/").status_code == expected
    assert api.post(f"/api/v1/imports/{job}/start/").status_code == expected
    assert api.get(f"/api/v1/imports/{job}/created/").status_code == expected
    assert api.post("/api/v1/projects/demo/imports/", {"file": upload(ROWS)}, format="multipart").status_code == (
        expected
    )
    token = login(browser_client, users[who])
    assert browser_client.get("/p/demo/import/").status_code == expected
    assert browser_client.get(f"/p/demo/import/{job}/").status_code == expected
    assert browser_client.get(f"/p/demo/import/{job}/created/").status_code == expected
    assert browser_client.post(f"/p/demo/import/{job}/start/", {"csrfmiddlewaretoken": token}).status_code == expected
    checked.refresh_from_db()
    assert checked.status == Status.CHECKED and ItemImportJob.objects.count() == 1


def test_an_admin_of_another_project_cannot_reach_this_job_through_their_own(checked, users, browser_client):
    project_create(creator=users["outsider"], name="Other", slug="other")
    token = login(browser_client, users["outsider"])
    assert browser_client.get(f"/p/other/import/{checked.id}/").status_code == 404
    response = browser_client.post(f"/p/other/import/{checked.id}/start/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 404
    assert browser_client.get(f"/p/other/import/{checked.id}/created/").status_code == 404


def test_the_job_page_polls_while_working_and_stops_when_done(checked, users, browser_client):
    login(browser_client, users["admin"])
    ItemImportJob.objects.filter(id=checked.id).update(
        status=Status.IMPORTING, progress=0.42, report={**checked.report, "phase": "inserting"}
    )
    working = browser_client.get(f"/p/demo/import/{checked.id}/", headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in working.content and b"<progress" in working.content
    assert b"inserting 42%" in working.content and b"<h1>" not in working.content
    ItemImportJob.objects.filter(id=checked.id).update(status=Status.DONE, progress=1.0, report=checked.report)
    done = browser_client.get(f"/p/demo/import/{checked.id}/", headers={"HX-Request": "true"})
    assert b"hx-trigger" not in done.content and b"<progress" not in done.content
