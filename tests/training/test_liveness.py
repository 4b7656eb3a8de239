"""Background work never hangs: a run or build whose worker died ends failed with the reason, and `train` stops
following it; an executor error fails the run with its reason; a pipeline dies with its worker."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from annotation.models import Project
from tests.conftest import login
from training import run_executor
from training.liveness import BUILD_STALE_AFTER_S, RUN_STALE_AFTER_S
from training.management.commands.train import Command as TrainCommand
from training.models import Snapshot, TrainingRun
from training.run_executor import training_run_execute
from training.snapshots.service import snapshot_create

ROOT = Path(__file__).resolve().parents[2]


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


@pytest.mark.django_db
def test_an_executor_error_fails_the_run_with_the_reason_in_its_log(ready_snapshot):
    default_storage.delete(f"{ready_snapshot.folder}/sft.train.jsonl")
    run = TrainingRun.objects.create(snapshot=ready_snapshot, config_yaml="base_model: x\n")
    with pytest.raises(FileNotFoundError):
        training_run_execute(run.id)
    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None
    assert "The run failed before it finished: FileNotFoundError" in run.log_tail
    assert "FileNotFoundError" in Path(run.log_path).read_text()


@pytest.mark.django_db
def test_a_worker_forced_to_stop_mid_run_stops_the_pipeline_and_fails_the_run(ready_snapshot, tmp_path, monkeypatch):
    pid_file = tmp_path / "pipeline.pid"
    pipeline = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); print('training', flush=True);"
    monkeypatch.setattr(
        run_executor, "pipeline_command", lambda *a, **k: [sys.executable, "-c", pipeline + "time.sleep(30)"]
    )

    def forced_exit(run, tail):  # what db_worker does on a second Ctrl-C
        if "training" in tail:
            raise SystemExit(1)
        return False

    monkeypatch.setattr(run_executor, "_beat", forced_exit)
    run = TrainingRun.objects.create(snapshot=ready_snapshot, config_yaml="base_model: x\n")
    started = time.monotonic()
    with pytest.raises(SystemExit):
        training_run_execute(run.id)
    assert time.monotonic() - started < 10, "the worker waited for the pipeline to finish"
    assert not Path(f"/proc/{pid_file.read_text()}").exists()
    run.refresh_from_db()
    assert run.status == "failed" and "The run failed before it finished: SystemExit: 1" in run.log_tail


@pytest.mark.django_db(transaction=True)  # the follower reads from its own thread's connection
def test_train_stops_following_a_run_whose_worker_died(ready_snapshot, tmp_path):
    log = tmp_path / "pipeline.log"
    log.write_text("sft: starting from x\n")
    run = TrainingRun.objects.create(
        snapshot=ready_snapshot,
        config_yaml="base_model: x\n",
        status="running",
        log_path=str(log),
        heartbeat_at=ago(RUN_STALE_AFTER_S + 5),
    )
    command = TrainCommand()
    followed = []
    follower = threading.Thread(target=lambda: followed.append(command._follow(run)), daemon=True)
    follower.start()
    follower.join(timeout=15)
    assert not follower.is_alive(), "train kept following a run whose worker died"
    assert followed[0].status == "failed"
    assert "The worker stopped reporting" in followed[0].log_tail


@pytest.mark.django_db
def test_a_live_run_is_not_marked_stale(ready_snapshot):
    from training.liveness import stale_work_fail

    run = TrainingRun.objects.create(
        snapshot=ready_snapshot, config_yaml="x", status="running", heartbeat_at=ago(RUN_STALE_AFTER_S - 10)
    )
    assert stale_work_fail() == 0
    run.refresh_from_db()
    assert run.status == "running"


@pytest.mark.django_db
def test_a_run_whose_worker_died_shows_failed_on_its_page_and_in_the_api(client, ready_snapshot, users):
    login(client, users["admin"])

    def silent_run(status: str) -> TrainingRun:
        return TrainingRun.objects.create(
            snapshot=ready_snapshot, config_yaml="x", status=status, heartbeat_at=ago(RUN_STALE_AFTER_S + 5)
        )

    dead, cancelled = silent_run("running"), silent_run("cancelled")
    page = client.get(f"/p/demo/runs/{dead.id}/")
    assert page.status_code == 200 and b"failed" in page.content and b"stopped reporting" in page.content
    assert client.get(f"/api/v1/runs/{silent_run('running').id}/").json()["status"] == "failed"
    cancelled.refresh_from_db()
    assert cancelled.status == "cancelled" and cancelled.finished_at is None


@pytest.mark.django_db
def test_a_build_whose_worker_died_shows_failed_on_its_page_and_in_the_api(client, project, users):
    login(client, users["admin"])
    dead = Snapshot.objects.create(
        project=project, version=1, config={}, status="building", heartbeat_at=ago(BUILD_STALE_AFTER_S + 5)
    )
    alive = Snapshot.objects.create(project=project, version=2, config={}, status="building", heartbeat_at=ago(5))
    page = client.get(f"/p/demo/snapshots/{dead.version}/")
    assert page.status_code == 200 and b"failed" in page.content and b"stopped reporting" in page.content
    body = client.get(f"/api/v1/snapshots/{alive.id}/").json()
    assert body["status"] == "building"
    dead.refresh_from_db()
    assert dead.status == "failed" and dead.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_snapshot_create_gives_up_when_the_row_can_never_be_written(users):
    from annotation.errors import Conflict

    ghost = Project(id=987654, name="Gone", slug="gone")  # deleted by someone else: every insert breaks its key
    outcome = []

    def create():
        try:
            snapshot_create(project=ghost, user=users["admin"], config={}, queue=False)
        except Conflict as exc:
            outcome.append(exc.message)

    creator = threading.Thread(target=create, daemon=True)
    creator.start()
    creator.join(timeout=15)
    assert not creator.is_alive(), "snapshot_create retried forever"
    assert outcome == ["Could not record the snapshot; try again."]


def test_the_pipeline_dies_with_the_worker_that_started_it(tmp_path):
    pid_file = tmp_path / "child.pid"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django, subprocess, sys, time; django.setup();"
            "from training.run_executor import die_with_parent;"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
            " preexec_fn=die_with_parent);"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(120)",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"},
    )
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    child = int(pid_file.read_text())
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    for _ in range(50):
        if not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the pipeline outlived its worker")
