"""Training at scale: runs have a queue and a worker of their own, with an RQ job timeout that fits training; a real
RQ worker on Redis trains a queued run, and a cancel from another process stops its pipeline."""

import os
import runpy
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import django_rq
import pytest
import redis
import yaml

from annotation.management.commands.serve import worker_commands
from annotation.tasks import near_duplicates_index
from tests.servers import database_url
from tests.training.conftest import build, tiny_run_yaml
from training import run_executor
from training.models import ModelVersion, TrainingRun
from training.pipeline.tiny_model import build_tiny_model
from training.run_cancel import training_run_cancel
from training.runs import training_run_create
from training.tasks import snapshot_build_task, training_run_task

ROOT = Path(__file__).resolve().parents[2]
REDIS_TEST_URL = "redis://127.0.0.1:6379/7"  # a database of its own, flushed before and after
WAIT_S = 50


def production_settings(**env: str) -> dict:
    """config/settings.py as it reads with `env` added (what a deployment gets), without touching Django's."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return runpy.run_path(str(ROOT / "config" / "settings.py"))


def test_training_runs_have_a_queue_of_their_own():
    assert training_run_task.queue_name == "training"
    assert snapshot_build_task.queue_name == near_duplicates_index.queue_name == "default"
    for env in ({}, {"REDIS_URL": REDIS_TEST_URL}):
        assert production_settings(**env)["TASKS"]["default"]["QUEUES"] == ["default", "training"]


def test_rq_gives_training_jobs_a_timeout_that_fits_training():
    queues = production_settings(REDIS_URL=REDIS_TEST_URL)["RQ_QUEUES"]
    assert queues["training"]["DEFAULT_TIMEOUT"] == 7 * 24 * 3600
    assert queues["default"]["DEFAULT_TIMEOUT"] == 3600
    queues = production_settings(REDIS_URL=REDIS_TEST_URL, TRAINING_JOB_TIMEOUT_S="86400")["RQ_QUEUES"]
    assert queues["training"]["DEFAULT_TIMEOUT"] == 86400


def test_make_run_starts_a_worker_for_each_queue(settings):
    settings.REDIS_URL = ""
    assert worker_commands() == [
        ["db_worker", "--queue-name", "default"],
        ["db_worker", "--queue-name", "training", "--no-reload"],
    ]
    settings.REDIS_URL = REDIS_TEST_URL
    assert worker_commands() == [["rqworker", "default"], ["rqworker", "training"]]


@pytest.mark.django_db
def test_a_multi_process_launch_runs_the_pipeline_under_accelerate(
    judged, users, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    commands = []

    def stream(run, command, log_path):
        commands.append(command)
        return 1, "", False

    config = {"base_model": "tiny", "use_cpu": True, "launch": {"processes": 2}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_executor, "_stream", stream)
        for launch in (config, {**config, "launch": {}}):
            run = TrainingRun.objects.create(snapshot=snapshot, config_yaml=yaml.safe_dump(launch))
            run_executor.training_run_execute(run.id)
    accelerate, plain = commands
    assert accelerate[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert accelerate[accelerate.index("--num_processes") + 1] == "2"
    assert accelerate[accelerate.index("-m", 3) :][:2] == ["-m", "training.pipeline"]
    assert plain[:3] == [sys.executable, "-m", "training.pipeline"]
    assert plain[plain.index("--out") + 1] == TrainingRun.objects.order_by("id").last().output_dir


# A real RQ worker on Redis, serving the test database: transaction=True tests commit, so it sees the rows.


@pytest.fixture(scope="module")
def redis_db():
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_TEST_URL} ({exc}); the RQ tests need it.")
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(scope="module")
def rq_worker(django_db_setup, redis_db, tmp_path_factory):
    """`manage.py rqworker training` with the production settings, on the test database and its own media."""
    media, log = tmp_path_factory.mktemp("media"), tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_TEST_URL,
        "MEDIA_ROOT": str(media),
        "HF_HUB_OFFLINE": "1",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "training"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    yield SimpleNamespace(media=media, log=log, process=process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # still in a job: a second signal stops it, and its pipeline, at once
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def queue_run(rq_worker, settings, judged, users, django_capture_on_commit_callbacks, tmp_path):
    """Queue a run of the tiny model on a ready snapshot, with `changes` to the run config, on the worker's Redis
    with the task settings a deployment with REDIS_URL has."""
    settings.MEDIA_ROOT = str(rq_worker.media)
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    tiny = build_tiny_model(tmp_path / "tiny", ["hello there, how are you"] * 20)
    production = production_settings(REDIS_URL=REDIS_TEST_URL)
    settings.RQ_QUEUES, settings.TASKS = production["RQ_QUEUES"], production["TASKS"]

    def queue(**changes) -> TrainingRun:
        return training_run_create(snapshot=snapshot, config_yaml=tiny_run_yaml(tiny, **changes), user=users["admin"])

    return queue


def wait_for(run: TrainingRun, worker: SimpleNamespace, done) -> TrainingRun:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if done(run):
            return run
        assert worker.process.poll() is None, worker.log.read_text()[-3000:]
        time.sleep(0.3)
    worker_log = worker.log.read_text()[-3000:]
    pytest.fail(f"run {run.id} is {run.status} after {WAIT_S} s; its log:\n{run.log_tail}\nworker:\n{worker_log}")


def processes_running(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line contains `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if proc.name.isdigit() and marker in command and state != "Z":
            found.append(int(proc.name))
    return found


@pytest.mark.django_db(transaction=True)
def test_an_rq_worker_trains_a_queued_run_and_registers_its_model(rq_worker, queue_run):
    run = wait_for(queue_run(), rq_worker, lambda r: r.status in ("succeeded", "failed"))
    assert run.status == "succeeded", run.log_tail
    assert set(run.metrics["stages"]) == {"sft", "dpo"}
    assert ModelVersion.objects.get().run == run
    queue = django_rq.get_queue("training")
    deadline = time.monotonic() + 30  # RQ files the job as finished just after the task's own last write
    while not queue.finished_job_registry.get_job_ids() and time.monotonic() < deadline:
        time.sleep(0.2)
    (job_id,) = queue.finished_job_registry.get_job_ids()
    job = queue.fetch_job(job_id)
    assert (job.func_name, list(job.args), job.timeout) == ("training.tasks.training_run_task", [run.id], 7 * 24 * 3600)


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_run_from_another_process_stops_its_whole_pipeline(rq_worker, queue_run, users):
    run = queue_run(sft={"max_steps": 100_000, "batch_size": 2})
    run = wait_for(run, rq_worker, lambda r: "sft: starting from" in r.log_tail)
    assert processes_running(run.output_dir), "the pipeline is not running"
    started = time.monotonic()
    training_run_cancel(run=run, user=users["admin"])
    run = wait_for(run, rq_worker, lambda r: r.status != "running")
    assert run.status == "cancelled" and time.monotonic() - started < 15
    assert run.log_tail.splitlines()[-1].startswith("Cancelled by admin at ")
    assert Path(run.log_path).read_text().splitlines()[-1] == run.log_tail.splitlines()[-1]
    assert run.exit_code == -15 and ModelVersion.objects.count() == 0
    assert processes_running(run.output_dir) == []
