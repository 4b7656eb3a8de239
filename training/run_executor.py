"""Running a queued training run: the pipeline as a subprocess (plain Python or `accelerate launch`, as the run
config's `launch` says), its log streamed into the run, the result recorded, and the model registered as a candidate.
A failed or cancelled run keeps its log and registers nothing."""

import ctypes
import ctypes.util
import json
import os
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
from django.db import transaction
from django.utils import timezone

from training.model_registry import model_register
from training.models import Snapshot, TrainingRun
from training.pipeline.config import config_from_text
from training.pipeline.launch import pipeline_command
from training.run_cancel import cancel_note

LOG_TAIL_LINES = 200
LOG_FLUSH_S = 1.0
CANCEL_GRACE_S = 10.0  # after SIGTERM, how long the pipeline's processes get to exit before SIGKILL
PR_SET_PDEATHSIG = 1


def run_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "runs"


def _materialise(snapshot: Snapshot, target: Path) -> Path:
    """The snapshot's files in a local folder, as the pipeline reads them (storage may be remote)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in snapshot.files:
        with default_storage.open(f"{snapshot.folder}/{name}") as source:
            (target / name).write_bytes(source.read())
    return target


def die_with_parent() -> None:
    """In the child: be killed when the worker that started it dies, so no orphan keeps training."""
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stream(run: TrainingRun, command: list[str], log_path: Path) -> tuple[int, str, bool]:
    """Run the pipeline, copying its output into the log and the run's tail, and beating while it runs; stop it when
    a cancel is requested. Returns the exit code, the tail, and whether it was cancelled."""
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    lines: queue.Queue[str | None] = queue.Queue()
    cancelled = False
    with (
        log_path.open("a", encoding="utf-8") as log,
        subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
            start_new_session=True,  # its own process group: a cancel stops accelerate's workers too
        ) as process,
    ):
        threading.Thread(target=lambda: [*map(lines.put, process.stdout), lines.put(None)], daemon=True).start()
        flushed = time.monotonic()
        try:
            while (line := _next_line(lines)) is not None:
                if line:
                    log.write(line)
                    tail.append(line)
                if time.monotonic() - flushed >= LOG_FLUSH_S:
                    log.flush()
                    if _beat(run, "".join(tail)) and not cancelled:
                        cancelled = True
                        _stop(process)
                    flushed = time.monotonic()
        except BaseException:  # the worker is stopping (or broke): in its own session, the pipeline got no Ctrl-C
            _stop(process)
            raise
        if tail and not tail[-1].endswith("\n"):  # a progress bar's last redraw: what follows starts a line
            log.write("\n")
            tail[-1] += "\n"
    if process.returncode < 0:
        tail.append(f"The pipeline process was killed by signal {-process.returncode}.\n")
    return process.returncode, "".join(tail), cancelled


def _beat(run: TrainingRun, tail: str) -> bool:
    """Record the tail and a heartbeat; return whether someone asked to cancel the run."""
    TrainingRun.objects.filter(id=run.id).update(log_tail=tail, heartbeat_at=timezone.now())
    return TrainingRun.objects.filter(id=run.id, cancel_requested_at__isnull=False).exists()


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the pipeline's whole process group, then SIGKILL whatever is left after the grace period."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + CANCEL_GRACE_S
    while _group_alive(process) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(process):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader: a zombie still counts as a member of its group
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


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
    started = TrainingRun.objects.filter(id=run.id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        output_dir=str(out),
        log_path=str(log_path),
    )
    if not started:  # cancelled while it waited (or already taken by another worker)
        run.refresh_from_db()
        return run
    try:
        folder.mkdir(parents=True, exist_ok=True)
        config_path.write_text(run.config_yaml)
        snapshot_dir = _materialise(run.snapshot, folder / "snapshot")
        base_model = run.parent_model.source if run.parent_model else ""
        config = config_from_text(run.config_yaml, base_model=base_model or None)
        command = pipeline_command(
            config, config_path=config_path, snapshot=snapshot_dir, out=out, base_model=base_model
        )
        exit_code, tail, cancelled = _stream(run, command, log_path)
        if cancelled:
            return _record_cancelled(run, exit_code, tail, log_path)
        return _record(run, exit_code, tail, out)
    except BaseException as exc:  # SystemExit too: a worker forced to stop mid-run
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
            model_register(run)
    return run


def _record_cancelled(run: TrainingRun, exit_code: int, tail: str, log_path: Path) -> TrainingRun:
    run = TrainingRun.objects.select_related("cancel_requested_by").get(id=run.id)
    note = cancel_note(run)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(note)
    run.exit_code, run.log_tail, run.finished_at = exit_code, tail + note, timezone.now()
    run.status = TrainingRun.Status.CANCELLED
    run.save(update_fields=["exit_code", "log_tail", "finished_at", "status"])
    return run
