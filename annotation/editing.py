"""Annotators revising their own submitted work before a reviewer decides it."""

from django.db import transaction
from django.http import Http404

from annotation.errors import Conflict
from annotation.models import Annotation, AnnotationEdit
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
    """Replace the payload of the user's own annotation while it awaits review."""
    ensure_writable(project)
    payload = clean(payload, "payload")
    annotation = own_annotation(annotation_id=annotation_id, user=user, project=project)
    locked = Annotation.objects.select_for_update().get(id=annotation.id)
    if locked.review_status != Annotation.ReviewStatus.PENDING:
        raise Conflict(f"A reviewer has {locked.review_status} this annotation; it can no longer change.")
    before = locked.payload
    annotation.payload = validate_payload(item=annotation.item, project=annotation.project, payload=payload)
    columns = preference_columns(
        item=annotation.item, payload=annotation.payload, response_order=annotation.assignment.response_order
    )
    for name, value in columns.items():
        setattr(annotation, name, value)
    annotation.save(update_fields=["payload", "updated_at", *columns])
    if annotation.payload != before:
        AnnotationEdit.objects.create(
            annotation=annotation, editor=user, payload_before=before, payload_after=annotation.payload
        )
    return annotation
