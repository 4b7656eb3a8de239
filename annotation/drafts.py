"""Drafts: unsubmitted work saved as the annotator types, guarded against stale overwrites."""

import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.errors import Conflict, InvalidInput
from annotation.models import Assignment, AuthorDraft, Draft, Project
from annotation.selectors import own_assignment

MAX_DRAFT_BYTES = 200_000


def _save_versioned(model, key: dict, payload, version: int | None):
    """Create (version None) or replace the draft at `key` if it is still at `version`; else 409."""
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


def draft_save(*, assignment_id: int, user, payload, version: int | None) -> Draft:
    """Save a draft; `version` is the one the client last saw (None for a first save), else 409."""
    assignment = own_assignment(assignment_id, user)
    if assignment.status != Assignment.Status.ACTIVE:
        raise Conflict(f"This assignment is {assignment.status}; its draft can no longer change.")
    return _save_versioned(Draft, {"assignment": assignment}, payload, version)


def author_draft_save(*, project: Project, user, mode: str, payload, version: int | None) -> AuthorDraft:
    """Save what the user is writing in an authoring form, with the same stale-write guard as task drafts."""
    return _save_versioned(AuthorDraft, {"project": project, "user": user, "mode": mode}, payload, version)


def author_draft_discard(*, project: Project, user, mode: str) -> None:
    AuthorDraft.objects.filter(project=project, user=user, mode=mode).delete()
