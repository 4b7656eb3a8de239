"""Annotators revising their own submitted work: while it awaits review, and after a reviewer rejected it."""

from django.db import transaction
from django.http import Http404

from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from annotation.models import Annotation, AnnotationEdit
from annotation.payload_display import is_empty
from annotation.payloads import preference_columns, validate_payload
from annotation.projects import ensure_writable
from annotation.text import clean


def own_annotation(*, annotation_id: int, user, project) -> Annotation:
    """The user's own annotation in `project`; 404 for anyone else's."""
    annotation = (
        Annotation.objects.select_related("item", "assignment", "project")
        .filter(id=annotation_id, annotator=user, project=project)
        .first()
    )
    if annotation is None:
        raise Http404("No such annotation.")
    return annotation


@transaction.atomic
def annotation_edit(*, annotation_id: int, user, project, payload) -> Annotation:
    """Replace the payload of the user's own annotation while it awaits review; revising a rejected one resubmits
    it for review (pending again). Accepted work stays as it is."""
    ensure_writable(project)
    payload = clean(payload, "payload")
    annotation = own_annotation(annotation_id=annotation_id, user=user, project=project)
    locked = Annotation.objects.select_for_update().get(id=annotation.id)
    if locked.review_status == Annotation.ReviewStatus.ACCEPTED:
        raise Conflict("A reviewer has accepted this annotation; it can no longer change.")
    resubmitting = locked.review_status == Annotation.ReviewStatus.REJECTED
    before = locked.payload
    annotation.payload = validate_payload(item=annotation.item, project=annotation.project, payload=payload)
    if resubmitting and _meaningful(annotation.payload) == _meaningful(before):
        raise InvalidInput("Change something before resubmitting.")
    columns = preference_columns(
        item=annotation.item, payload=annotation.payload, response_order=annotation.assignment.response_order
    )
    for name, value in columns.items():
        setattr(annotation, name, value)
    annotation.review_status = Annotation.ReviewStatus.PENDING
    annotation.save(update_fields=["payload", "review_status", "updated_at", *columns])
    if annotation.payload != before:
        AnnotationEdit.objects.create(
            annotation=annotation, editor=user, payload_before=before, payload_after=annotation.payload
        )
    if resubmitting:
        changed = sorted(
            name
            for name in before.keys() | annotation.payload.keys()
            if before.get(name) != annotation.payload.get(name)
        )
        audit_record(
            actor=user,
            project=project,
            action=Action.ANNOTATION_RESUBMIT,
            target=f"annotation {annotation.id}",
            before={"review_status": Annotation.ReviewStatus.REJECTED},
            after={"review_status": Annotation.ReviewStatus.PENDING, "changed": changed},
        )
    return annotation


def _meaningful(payload: dict) -> dict:
    """The payload without its empty and false fields: what a reader would see of it."""
    return {name: value for name, value in payload.items() if not is_empty(value)}
