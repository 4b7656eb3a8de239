"""Reads of annotation data for exports: streamed in item order, so a large project never sits in memory."""

from django.db.models import QuerySet

from annotation.models import Adjudication, Annotation, Item, Project
from annotation.taxonomy import PAIRWISE_KINDS, Kind

CHUNK = 5000
ITEM_FIELDS = (
    "id",
    "kind",
    "prompt",
    "messages",
    "task_type",
    "domain",
    "safety",
    "harm_category",
    "responses",
    "is_gold",
    "duplicate_of_id",
)


def item_strata(project: Project) -> QuerySet:
    """(id, stratum, cluster root) for every item: what splitting needs, without any text."""
    return Item.objects.filter(project=project).order_by("id").values_list("id", "task_type", "kind", "duplicate_of_id")


def export_items(project: Project):
    """Items with their text, in id order, streamed."""
    return Item.objects.filter(project=project).order_by("id").values_list(*ITEM_FIELDS).iterator(chunk_size=CHUNK)


def accepted_writing(project: Project) -> QuerySet:
    """Demonstrations and refusal cases that may be trained on: accepted by a reviewer, or not rejected when the
    project needs no review. Reviewer edits are already in the payload."""
    written = Annotation.objects.filter(project=project, kind__in=[Kind.DEMONSTRATION, Kind.REFUSAL])
    if project.require_review:
        return written.filter(review_status=Annotation.ReviewStatus.ACCEPTED)
    return written.exclude(review_status=Annotation.ReviewStatus.REJECTED)


def export_writing(project: Project):
    """(annotation id, item id, payload) of accepted writing, in item order, streamed."""
    rows = accepted_writing(project).order_by("item_id", "id").values_list("id", "item_id", "payload")
    return rows.iterator(chunk_size=CHUNK)


def export_judgments(project: Project, *, include_model_review: bool):
    """(annotation id, item id, signed score, better response) of pairwise judgments, in item order, streamed.
    Self-consistency repeats are not data."""
    kinds = list(PAIRWISE_KINDS) if include_model_review else [Kind.PREFERENCE]
    rows = (
        Annotation.objects.filter(project=project, kind__in=kinds, is_repeat=False, preference_score__isnull=False)
        .order_by("item_id", "id")
        .values_list("id", "item_id", "preference_score", "payload__better_response")
    )
    return rows.iterator(chunk_size=CHUNK)


def adjudicated(project: Project) -> dict[int, tuple]:
    return {
        item_id: (choice, strength)
        for item_id, choice, strength in Adjudication.objects.filter(item__project=project).values_list(
            "item_id", "choice", "strength"
        )
    }


def export_better_responses(project: Project, *, include_model_review: bool) -> QuerySet:
    """Pairwise judgments where the annotator wrote a better response of their own."""
    kinds = list(PAIRWISE_KINDS) if include_model_review else [Kind.PREFERENCE]
    return (
        Annotation.objects.filter(project=project, kind__in=kinds, is_repeat=False)
        .exclude(payload__better_response=None)
        .exclude(payload__better_response="")
    )
