"""Creating snapshots (recorded, then built by a background task) and reading their files back."""

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404

from annotation.errors import Conflict, InvalidInput
from annotation.models import Project
from training.models import Snapshot
from training.snapshots.config import snapshot_config
from training.tasks import snapshot_build_task

VERSION_TRIES = 5


def snapshot_create(*, project: Project, user, config: dict, queue: bool = True) -> Snapshot:
    """Validate the request, record the snapshot with the next version number, and queue its build
    (`queue=False` leaves building to the caller, as the management command does)."""
    valid = snapshot_config(config)
    if (
        valid.pin_eval_from is not None
        and not Snapshot.objects.filter(id=valid.pin_eval_from, project=project, status=Snapshot.Status.READY).exists()
    ):
        raise InvalidInput("pin_eval_from: no ready snapshot with that id in this project", field="pin_eval_from")
    for attempt in range(VERSION_TRIES):
        try:
            with transaction.atomic():
                version = (project.snapshots.aggregate(v=Max("version"))["v"] or 0) + 1
                snapshot = Snapshot.objects.create(
                    project=project, version=version, config=valid.as_dict(), created_by=user
                )
            break
        except IntegrityError as exc:
            if attempt == VERSION_TRIES - 1:  # not a version race: something else refuses the row
                raise Conflict("Could not record the snapshot; try again.") from exc
    if queue:
        transaction.on_commit(lambda: snapshot_build_task.enqueue(snapshot.id))
    return snapshot


def snapshot_file(snapshot: Snapshot, name: str):
    """An open file of a ready snapshot; only names the build wrote are served (no path tricks)."""
    if snapshot.status != Snapshot.Status.READY or name not in snapshot.files:
        raise Http404("No such file in this snapshot.")
    return default_storage.open(f"{snapshot.folder}/{name}")
