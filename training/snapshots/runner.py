"""Building a queued snapshot: the background task's work, and where its files are stored."""

import json
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.utils import timezone

from training.models import Snapshot
from training.snapshots.build import build_snapshot
from training.snapshots.config import snapshot_config

PROGRESS_EVERY_S = 0.5


@cache
def code_version() -> str:
    """The git commit the code was built from, when it is a git checkout."""
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        found = subprocess.run(
            [git, "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=5, check=True
        )
        return found.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _record_progress(snapshot_id: int, stage: str, fraction: float) -> None:
    Snapshot.objects.filter(id=snapshot_id).update(
        stage=stage, progress=round(fraction, 3), heartbeat_at=timezone.now()
    )


@contextmanager
def _progress_recorder(snapshot_id: int):
    """A function that records progress (and the heartbeat). Outside a transaction it writes from a thread with a
    connection of its own: the build reads in one long transaction, and what it wrote there would show only at
    its end."""
    if connection.in_atomic_block:
        yield partial(_record_progress, snapshot_id)
        return
    updates: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        try:
            while (update := updates.get()) is not None:
                _record_progress(snapshot_id, *update)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="snapshot-progress", daemon=True)
    thread.start()
    try:
        yield lambda stage, fraction: updates.put((stage, fraction))
    finally:
        updates.put(None)
        thread.join()


def _pinned_eval(snapshot: Snapshot) -> set[int] | None:
    pinned_id = snapshot.config.get("pin_eval_from")
    if pinned_id is None:
        return None
    pinned = Snapshot.objects.get(id=pinned_id)
    with default_storage.open(f"{pinned.folder}/eval_items.json") as handle:
        return set(json.load(handle))


def snapshot_build(snapshot_id: int, on_progress=None) -> Snapshot:
    """Build the snapshot's files and store them; a failure is recorded on the snapshot with its reason.
    `on_progress(stage, fraction)` also hears every progress report (the command's progress bar)."""
    snapshot = Snapshot.objects.select_related("project").get(id=snapshot_id)
    Snapshot.objects.filter(id=snapshot.id).update(
        status=Snapshot.Status.BUILDING, stage="starting", heartbeat_at=timezone.now()
    )
    last = [0.0]

    try:
        with tempfile.TemporaryDirectory(prefix="snapshot-") as workdir, _progress_recorder(snapshot.id) as record:

            def progress(stage: str, fraction: float) -> None:
                if on_progress:
                    on_progress(stage, fraction)
                if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                    last[0] = time.monotonic()
                    record(stage, fraction)

            result = build_snapshot(
                snapshot.project,
                snapshot_config(snapshot.config),
                Path(workdir),
                pinned_eval=_pinned_eval(snapshot),
                code_version=code_version(),
                progress=progress,
            )
            for name in result.files:
                target = f"{snapshot.folder}/{name}"
                if default_storage.exists(target):
                    default_storage.delete(target)
                with open(Path(workdir) / name, "rb") as handle:
                    default_storage.save(target, File(handle, name=name))
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the snapshot, then re-raised for the log
        Snapshot.objects.filter(id=snapshot.id).update(
            status=Snapshot.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        raise
    Snapshot.objects.filter(id=snapshot.id).update(
        status=Snapshot.Status.READY,
        stage="ready",
        progress=1.0,
        counts=result.counts,
        content_hash=result.content_hash,
        files=result.files,
        code_version=code_version(),
        finished_at=timezone.now(),
    )
    snapshot.refresh_from_db()
    return snapshot
