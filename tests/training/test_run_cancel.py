"""Cancelling a training run: a queued run ends at once and its worker skips it; a running one is stopped by its
worker, whole process group included; admins only, on the API, the run page and `manage.py train --cancel`."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from annotation.errors import Conflict
from tests.conftest import login
from training import run_executor
from training.models import TrainingRun
from training.run_cancel import training_run_cancel
from training.run_executor import training_run_execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def stranger(django_user_model):
    """A user of no project (`judged` makes the usual outsider an annotator)."""
    return django_user_model.objects.create_user(username="stranger", password="pw-stranger")


@pytest.fixture
def queued(ready_snapshot):
    return TrainingRun.objects.create(snapshot=ready_snapshot, config_yaml="base_model: x\n")


def test_a_run_cancelled_while_queued_ends_at_once_and_its_worker_skips_it(queued, users, monkeypatch):
    run = training_run_cancel(run=queued, user=users["admin"])
    assert run.status == "cancelled" and run.finished_at == run.cancel_requested_at
    assert run.log_tail == f"Cancelled by admin at {run.cancel_requested_at:%Y-%m-%d %H:%M:%S} UTC.\n"
    monkeypatch.setattr(run_executor, "_stream", lambda *args: pytest.fail("a cancelled run was started"))
    assert training_run_execute(run.id).status == "cancelled"
    run.refresh_from_db()
    assert run.started_at is None and run.log_path == ""


def test_a_running_run_is_only_asked_to_stop_and_a_finished_one_cannot_be_cancelled(queued):
    TrainingRun.objects.filter(id=queued.id).update(status="running")
    run = training_run_cancel(run=queued)
    assert run.status == "running" and run.cancel_requested_at is not None and run.cancel_requested_by is None
    assert training_run_cancel(run=queued).cancel_requested_at == run.cancel_requested_at
    TrainingRun.objects.filter(id=queued.id).update(status="succeeded")
    with pytest.raises(Conflict, match="already ended \\(succeeded\\)"):
        training_run_cancel(run=queued)


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def group_members(pgid: int) -> list[int]:
    """Live members of a process group (zombies excluded)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == pgid and stat[0] != "Z":
            found.append(int(pid))
    return found


def test_stopping_the_pipeline_sends_sigterm_to_its_whole_process_group(tmp_path):
    ready, terminated = tmp_path / "ready", tmp_path / "terminated"
    worker = (
        "import signal, sys, time;"
        f"signal.signal(signal.SIGTERM, lambda *_: sys.exit(open({str(terminated)!r}, 'a').write('x')));"
        f"open({str(ready)!r}, 'a').write('x'); time.sleep(60)"
    )
    launcher = f'{sys.executable} -c "{worker}" & {sys.executable} -c "{worker}" & wait'
    pipeline = subprocess.Popen(["/bin/bash", "-c", launcher], start_new_session=True)
    assert wait_until(lambda: ready.exists() and ready.read_text() == "xx")
    run_executor._stop(pipeline)
    assert pipeline.wait(timeout=5) == -signal.SIGTERM
    assert wait_until(lambda: group_members(pipeline.pid) == [], timeout=2.0)
    assert terminated.read_text() == "xx"


def test_stopping_the_pipeline_kills_what_ignores_sigterm_after_the_grace_period(monkeypatch):
    monkeypatch.setattr(run_executor, "CANCEL_GRACE_S", 1.0)
    pipeline = subprocess.Popen(["/bin/bash", "-c", "trap '' TERM; sleep 60 & sleep 60 & wait"], start_new_session=True)
    assert wait_until(lambda: len(group_members(pipeline.pid)) == 3)
    started = time.monotonic()
    run_executor._stop(pipeline)
    assert time.monotonic() - started >= 1.0
    assert pipeline.wait(timeout=5) == -signal.SIGKILL
    assert wait_until(lambda: group_members(pipeline.pid) == [], timeout=2.0)


def test_the_api_cancels_for_project_admins_only(client, queued, users, stranger):
    url = f"/api/v1/runs/{queued.id}/cancel/"
    for user, refused in [(stranger, 404), (users["ann1"], 403), (users["reviewer"], 403)]:
        client.force_login(user)
        response = client.post(url)
        assert response.status_code == refused, user
        assert set(response.json()) == {"detail", "field", "errors"}
    queued.refresh_from_db()
    assert queued.status == "queued"
    client.force_login(users["admin"])
    body = client.post(url).json()
    assert (body["status"], body["cancel_requested_by"]) == ("cancelled", "admin")
    assert client.post(url).status_code == 409
    assert client.get(f"/api/v1/runs/{queued.id}/").json()["status"] == "cancelled"
    assert [r["id"] for r in client.get("/api/v1/projects/demo/runs/").json()] == [queued.id]


def test_the_api_answers_202_while_a_running_run_is_being_stopped(client, queued, users):
    TrainingRun.objects.filter(id=queued.id).update(status="running")
    client.force_login(users["admin"])
    response = client.post(f"/api/v1/runs/{queued.id}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "running"
    assert response.json()["cancel_requested_at"] is not None


def test_the_run_page_has_a_cancel_button_for_admins_that_needs_the_csrf_token(browser_client, queued, users):
    page, cancel = f"/p/demo/runs/{queued.id}/", f"/p/demo/runs/{queued.id}/cancel/"
    login(browser_client, users["reviewer"])
    assert b"Cancel run" not in browser_client.get(page).content
    token = login(browser_client, users["admin"])
    assert b"Cancel run" in browser_client.get(page).content
    assert browser_client.post(cancel).status_code == 403
    queued.refresh_from_db()
    assert queued.status == "queued"
    response = browser_client.post(cancel, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.redirect_chain == [(page, 302)]
    assert b"cancelled" in response.content and b"Cancel run" not in response.content
    assert f"Run {queued.id}".encode() in browser_client.get("/p/demo/snapshots/1/").content


def test_the_run_page_refuses_annotators_and_outsiders_and_its_cancel_reviewers(client, queued, users, stranger):
    for user, page, cancel in [(users["ann1"], 403, 403), (stranger, 404, 404), (users["reviewer"], 200, 403)]:
        client.force_login(user)
        assert client.get(f"/p/demo/runs/{queued.id}/").status_code == page
        assert client.post(f"/p/demo/runs/{queued.id}/cancel/").status_code == cancel
    queued.refresh_from_db()
    assert queued.status == "queued"


def test_train_cancel_cancels_from_the_command_line(queued, capsys):
    call_command("train", "--cancel", str(queued.id))
    queued.refresh_from_db()
    assert queued.status == "cancelled" and "Cancelled by the command line at" in queued.log_tail
    assert f"Run {queued.id} cancelled." in capsys.readouterr().out
    with pytest.raises(CommandError, match="already ended"):
        call_command("train", "--cancel", str(queued.id))
    with pytest.raises(CommandError, match="No run 999"):
        call_command("train", "--cancel", "999")
    with pytest.raises(CommandError, match="Name a snapshot and a --config"):
        call_command("train")
