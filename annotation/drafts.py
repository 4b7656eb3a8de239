"""Drafts: unsubmitted work saved as the annotator types, guarded against stale overwrites.

Typing keeps the lease alive: each saved draft renews it to a full `lease_seconds`, but never past
MAX_LEASE_HOLD after the item was handed out, so an abandoned tab cannot hold an item for ever. A draft whose
lease ran out anyway is offered back (`draft_resume`) the next time its annotator asks for work.
"""

import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from annotation.errors import Conflict, InvalidInput
from annotation.models import Assignment, AuthorDraft, Draft, Item, Project
from annotation.projects import ensure_writable
from annotation.selectors import own_assignment
from annotation.text import clean

MAX_DRAFT_BYTES = 200_000
MAX_LEASE_HOLD = timedelta(hours=8)
Status = Assignment.Status


def _save_versioned(model, key: dict, payload, version: int | None):
    """Create (version None) or replace the draft at `key` if it is still at `version`; else 409."""
    payload = clean(payload, "payload")
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object.", field="payload")
    if len(json.dumps(payload)) > MAX_DRAFT_BYTES:
        raise InvalidInput(f"payload is over {MAX_DRAFT_BYTES} bytes.", field="payload")
    try:
        with transaction.atomic():
            if version is None:
                return model.objects.create(**key, payload=payload)
            updated = model.objects.filter(**key, version=version).update(
                payload=payload, version=version + 1, updated_at=timezone.now()
            )
    except IntegrityError:
        updated = 0
    if not updated:
        raise Conflict("The draft changed elsewhere (another tab or device); reload it before saving.", field="version")
    return model.objects.get(**key)


def draft_for(*, assignment_id: int, user) -> Draft | None:
    """The user's draft on their own assignment (404 for anyone else's)."""
    assignment = own_assignment(assignment_id, user)
    return Draft.objects.filter(assignment=assignment).first()


def _draft_assignment(assignment_id: int, user) -> Assignment:
    assignment = own_assignment(assignment_id, user)
    ensure_writable(assignment.project)
    if assignment.status not in (Status.ACTIVE, Status.EXPIRED):
        raise Conflict(f"This assignment is {assignment.status}; its draft can no longer change.")
    return assignment


def _renew_lease(assignment: Assignment) -> None:
    lease = timedelta(seconds=assignment.project.lease_seconds)
    renewed = min(timezone.now() + lease, assignment.created_at + MAX_LEASE_HOLD)
    if renewed > assignment.expires_at:
        Assignment.objects.filter(id=assignment.id, status=Status.ACTIVE).update(expires_at=renewed)


def draft_save(*, assignment_id: int, user, payload, version: int | None) -> Draft:
    """Save a draft and renew the lease (up to MAX_LEASE_HOLD); `version` is the one the client last saw
    (None for a first save), else 409. A lapsed assignment's draft is kept too, to be offered back."""
    assignment = _draft_assignment(assignment_id, user)
    draft = _save_versioned(Draft, {"assignment": assignment}, payload, version)
    _renew_lease(assignment)
    return draft


def draft_current(*, assignment: Assignment, version: int | None) -> None:
    """Refuse (409) a submit from a page that saw another draft `version` (None: no draft) than the stored one:
    another tab or device changed the task since, and its newer text must win. Checked on a submitted assignment
    too, so that a stale tab's submit is never taken for a retry of the other tab's (the draft carries client_id).
    `assignment` is one the caller already found to be the user's own."""
    stored = Draft.objects.filter(assignment=assignment).values_list("version", flat=True).first()
    if stored is not None and stored != version:
        raise Conflict(
            "This task was changed in another tab or device after this page was loaded, so this submit was refused. "
            "Reload the page to see the newest text; what you typed stays here until you do.",
            field="draft_version",
        )


def draft_keep(*, assignment_id: int, user, payload, version: int | None) -> Draft:
    """Keep a refused submit's form as the draft when its page saw the stored `version` (or there is no draft): it is
    the newest text. Else 409, leaving the newer draft that another tab or device saved."""
    assignment = _draft_assignment(assignment_id, user)
    stored = Draft.objects.filter(assignment=assignment).exists()
    return _save_versioned(Draft, {"assignment": assignment}, payload, version if stored else None)


def draft_resume(assignment: Assignment) -> bool:
    """Lease again a lapsed assignment that has a draft (the caller holds its row lock), so the text typed comes
    back; False when other annotators have since taken the slot it gave up. Sets `assignment.resumed`."""
    if assignment.status == Status.EXPIRED and not assignment.item.is_gold and not assignment.repeat_of_id:
        free = Item.objects.filter(id=assignment.item_id, open_slots__gt=0)
        if not free.update(open_slots=F("open_slots") - 1):
            return False
    assignment.status = Status.ACTIVE
    assignment.expires_at = timezone.now() + timedelta(seconds=assignment.project.lease_seconds)
    assignment.save(update_fields=["status", "expires_at", "updated_at"])
    assignment.resumed = True
    return True


def author_draft_save(*, project: Project, user, mode: str, payload, version: int | None) -> AuthorDraft:
    """Save what the user is writing in an authoring form, with the same stale-write guard as task drafts."""
    ensure_writable(project)
    return _save_versioned(AuthorDraft, {"project": project, "user": user, "mode": mode}, payload, version)


def author_draft_discard(*, project: Project, user, mode: str) -> None:
    AuthorDraft.objects.filter(project=project, user=user, mode=mode).delete()
