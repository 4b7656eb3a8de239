"""Running a queued training run: the pipeline as a subprocess, its log streamed into the run, the result
recorded, and the model registered as a candidate. A failed run keeps its log and registers nothing."""

import json
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from training.models import ModelVersion, Snapshot, TrainingRun

LOG_TAIL_LINES = 200
LOG_FLUSH_S = 1.0


def run_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "runs"


def _materialise(snapshot: Snapshot, target: Path) -> Path:
    """The snapshot's files in a local folder, as the pipeline reads them (storage may be remote)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in snapshot.files:
        with default_storage.open(f"{snapshot.folder}/{name}") as source:
            (target / name).write_bytes(source.read())
    return target


def training_run_execute(run_id: int) -> TrainingRun:
    """Run the pipeline for a queued run, streaming its log into the run; register the model when it succeeds."""
    run = TrainingRun.objects.select_related("snapshot__project", "parent_model").get(id=run_id)
    folder = run_root() / run.snapshot.project.slug / str(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    config_path, log_path, out = folder / "run.yaml", folder / "pipeline.log", folder / "out"
    config_path.write_text(run.config_yaml)
    TrainingRun.objects.filter(id=run.id).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        output_dir=str(out),
        log_path=str(log_path),
    )
    snapshot_dir = _materialise(run.snapshot, folder / "snapshot")
    command = [sys.executable, "-m", "training.pipeline", "--config", str(config_path)]
    command += ["--snapshot", str(snapshot_dir), "--out", str(out)]
    if run.parent_model:
        command += ["--base-model", run.parent_model.model_path]
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    with (
        log_path.open("a", encoding="utf-8") as log,
        subprocess.Popen(
            command, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process,
    ):
        flushed = time.monotonic()
        for line in process.stdout:
            log.write(line)
            tail.append(line)
            if time.monotonic() - flushed > LOG_FLUSH_S:
                log.flush()
                TrainingRun.objects.filter(id=run.id).update(log_tail="".join(tail))
                flushed = time.monotonic()
    return _record(run, process.returncode, "".join(tail), out)


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
            project = run.snapshot.project
            count = ModelVersion.objects.filter(project=project).count() + 1
            ModelVersion.objects.create(
                project=project,
                name=f"{project.slug}-m{count}",
                run=run,
                snapshot=run.snapshot,
                parent=run.parent_model,
                model_path=run.metrics["final_model"],
                metrics=run.metrics["stages"],
            )
    return run
