"""An admin imports items in a real browser: a file with a bad line is checked and the line shown with its reason,
the fixed file checks clean, and its import runs with a progress bar to the created count. The tasks are queued
(not run inline) so that the page's checking and importing states show; the test runs them as the worker would."""

import json

import pytest

from annotation.import_jobs import job_check, job_run
from annotation.models import Item, ItemImportJob
from tests.browser.conftest import doc_shot, log_in

pytestmark = pytest.mark.django_db(transaction=True)

TASK_TYPES = ["summarization", "open_qa", "brainstorming"]


@pytest.fixture
def queued_tasks(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend", "QUEUES": ["default", "training"]}
    }


def jsonl(rows) -> bytes:
    return ("\n".join(json.dumps(row) for row in rows) + "\n").encode()


def upload(page, live_server, name: str, body: bytes) -> ItemImportJob:
    page.goto(f"{live_server.url}/p/demo/import/")
    page.set_input_files("#id_file", files=[{"name": name, "mimeType": "application/x-ndjson", "buffer": body}])
    page.click("text=Upload and check")
    page.wait_for_url(f"{live_server.url}/p/demo/import/*/")
    page.wait_for_selector("progress")
    assert page.locator("[data-testid=import-status]").inner_text() == "checking"
    return ItemImportJob.objects.latest("id")


def test_an_admin_dry_runs_a_file_with_a_bad_line_then_imports_the_fixed_file(page, live_server, project, queued_tasks):
    rows = [
        {"kind": "demonstration", "prompt": f"Instruction {i}", "task_type": TASK_TYPES[i % 3], "meta": {"ref": i}}
        for i in range(300)
    ]
    broken = [*rows[:6], {"kind": "demonstration", "prompt": "Poem", "task_type": "poetry"}, *rows[6:]]
    log_in(page, live_server, "admin", "pw-admin")

    job = upload(page, live_server, "broken.jsonl", jsonl(broken))
    job_check(job.id)
    page.wait_for_selector("[data-testid=import-errors]")
    assert page.locator("[data-testid=import-status]").inner_text() == "invalid"
    assert page.locator("[data-testid=import-errors] tbody tr").count() == 1
    cells = page.locator("[data-testid=import-errors] tbody td").all_inner_texts()
    assert cells[0] == "7" and cells[1] == "task_type" and "unknown value 'poetry'" in cells[2]
    assert page.locator("progress").count() == 0 and page.locator("text=Import 300 items").count() == 0
    doc_shot(page, "import-dry-run")

    job = upload(page, live_server, "fixed.jsonl", jsonl(rows))
    job_check(job.id)
    page.wait_for_selector("text=Import 300 items")
    assert page.locator("[data-testid=import-valid]").inner_text() == "300"
    assert not Item.objects.exists()
    page.click("text=Import 300 items")
    page.wait_for_selector("progress")
    assert page.locator("[data-testid=import-status]").inner_text() == "importing"
    job_run(job.id)
    page.wait_for_selector("[data-testid=import-created]")
    assert page.locator("[data-testid=import-created]").inner_text() == "Created 300 items."
    assert page.locator("progress").count() == 0 and Item.objects.count() == 300
    doc_shot(page, "import-done")
