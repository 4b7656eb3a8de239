"""Running a queued training run: the pipeline as a subprocess, its log streamed into the run, the result
recorded, and the model registered as a candidate. A failed run keeps its log and registers nothing."""

import ctypes
import ctypes.util
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import suppress
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from training.models import ModelVersion, Snapshot, TrainingRun

LOG_TAIL_LINES = 200
LOG_FLUSH_S = 1.0
PR_SET_PDEATHSIG = 1
MODEL_NAME_TRIES = 5


def run_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "runs"


def _materialise(snapshot: Snapshot, target: Path) -> Path:
    """The snapshot's files in a local folder, as the pipeline reads them (storage may be remote)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in snapshot.files:
        with default_storage.open(f"{snapshot.folder}/{name}") as source:
            (target / name).write_bytes(source.read())
    return target


def _die_with_parent() -> None:
    """In the child: be killed when the worker that started it dies, so no orphan keeps training."""
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stream(run: TrainingRun, command: list[str], log_path: Path) -> tuple[int, str]:
    """Run the pipeline, copying its output into the log and the run's tail, and beating while it runs."""
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    lines: queue.Queue[str | None] = queue.Queue()
    with (
        log_path.open("a", encoding="utf-8") as log,
        subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        ) as process,
    ):
        threading.Thread(target=lambda: [*map(lines.put, process.stdout), lines.put(None)], daemon=True).start()
        flushed = time.monotonic()
        while (line := _next_line(lines)) is not None:
            log.write(line)
            tail.append(line)
            if time.monotonic() - flushed >= LOG_FLUSH_S:
                log.flush()
                TrainingRun.objects.filter(id=run.id).update(log_tail="".join(tail), heartbeat_at=timezone.now())
                flushed = time.monotonic()
    if process.returncode < 0:
        tail.append(f"The pipeline process was killed by signal {-process.returncode}.\n")
    return process.returncode, "".join(tail)


def _next_line(lines: queue.Queue) -> str | None:
    """The pipeline's next output line, or "" after a quiet second (so the loop still beats)."""
    try:
        return lines.get(timeout=LOG_FLUSH_S)
    except queue.Empty:
        return ""


def training_run_execute(run_id: int) -> TrainingRun:
    """Run the pipeline for a queued run, streaming its log into the run; register the model when it succeeds.
    Whatever goes wrong on the way, the run ends failed with the reason at the end of its log."""
    run = TrainingRun.objects.select_related("snapshot__project", "parent_model").get(id=run_id)
    folder = run_root() / run.snapshot.project.slug / str(run.id)
    config_path, log_path, out = folder / "run.yaml", folder / "pipeline.log", folder / "out"
    TrainingRun.objects.filter(id=run.id).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        output_dir=str(out),
        log_path=str(log_path),
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        config_path.write_text(run.config_yaml)
        snapshot_dir = _materialise(run.snapshot, folder / "snapshot")
        command = [sys.executable, "-m", "training.pipeline", "--config", str(config_path)]
        command += ["--snapshot", str(snapshot_dir), "--out", str(out)]
        if run.parent_model:
            command += ["--base-model", run.parent_model.model_path]
        exit_code, tail = _stream(run, command, log_path)
        return _record(run, exit_code, tail, out)
    except Exception as exc:
        run.refresh_from_db()
        reason = f"The run failed before it finished: {type(exc).__name__}: {exc}\n"
        with suppress(OSError), log_path.open("a", encoding="utf-8") as log:
            log.write(reason)
        TrainingRun.objects.filter(id=run.id).update(
            status=TrainingRun.Status.FAILED, finished_at=timezone.now(), log_tail=run.log_tail + reason
        )
        raise


def _record(run: TrainingRun, exit_code: int, tail: str, out: Path) -> TrainingRun:
    metrics_path = out / "metrics.json"
    succeeded = exit_code == 0 and metrics_path.exists()
    with transaction.atomic():
        run.exit_code, run.log_tail, run.finished_at = exit_code, tail, timezone.now()
        run.status = TrainingRun.Status.SUCCEEDED if succeeded else TrainingRun.Status.FAILED
        if succeeded:
            run.metrics = json.loads(metrics_path.read_text())
        run.save(update_fields=["exit_code", "log_tail", "finished_at", "status", "metrics"])
        if succeeded:
            _register(run)
    return run


def _register(run: TrainingRun) -> ModelVersion:
    """The run's model as the project's next candidate; a name taken by a run finishing at the same moment is
    retried a few times, then the error fails the run."""
    project = run.snapshot.project
    for attempt in range(MODEL_NAME_TRIES):
        count = ModelVersion.objects.filter(project=project).count() + 1
        try:
            with transaction.atomic():
                return ModelVersion.objects.create(
                    project=project,
                    name=f"{project.slug}-m{count}",
                    run=run,
                    snapshot=run.snapshot,
                    parent=run.parent_model,
                    model_path=run.metrics["final_model"],
                    metrics=run.metrics["stages"],
                )
        except IntegrityError:
            if attempt == MODEL_NAME_TRIES - 1:
                raise
