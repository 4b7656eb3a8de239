"""Reads of annotation data for exports: streamed in item order, so a large project never sits in memory."""

from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Case, QuerySet, TextField, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

from annotation.models import Adjudication, Annotation, Item, ItemTag, Project
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
    "origin",
)


@contextmanager
def consistent_reads():
    """One transaction in which every read sees the database as it was at its first read, without holding up
    writers: REPEATABLE READ on PostgreSQL, a deferred transaction on SQLite (WAL). Inside a transaction already,
    that transaction's view is the one read."""
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor != "sqlite":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    connection.ensure_connection()  # connecting would set the configured mode again
    configured, connection.transaction_mode = connection.transaction_mode, "DEFERRED"
    try:
        with transaction.atomic():
            connection.transaction_mode = configured
            yield
    finally:
        connection.transaction_mode = configured


def trainable_items(project: Project, *, exclude_gold: bool) -> QuerySet:
    """The items a snapshot may take rows from: gold items of every kind measure annotators and stay out, and so
    does every item an admin excluded from exports."""
    items = Item.objects.filter(project=project, excluded_reason="")
    return items.filter(is_gold=False) if exclude_gold else items


def item_strata(project: Project, *, exclude_gold: bool) -> QuerySet:
    """(id, task type, kind, cluster root, prompt, messages) for every item a snapshot may take rows from: what
    splitting needs."""
    return (
        trainable_items(project, exclude_gold=exclude_gold)
        .order_by("id")
        .values_list("id", "task_type", "kind", "duplicate_of_id", "prompt", "messages")
    )


def export_items(project: Project):
    """Items with their text and origin ("human", or meta["origin"] of a model-sourced item), in id order,
    streamed."""
    model_origin = Coalesce(KT("meta__origin"), Value("model"))
    origin = Case(When(meta__source="model", then=model_origin), default=Value("human"), output_field=TextField())
    items = Item.objects.filter(project=project, excluded_reason="").annotate(origin=origin).order_by("id")
    return items.values_list(*ITEM_FIELDS).iterator(chunk_size=CHUNK)


def export_tags(project: Project) -> dict[int, list[str]]:
    """Each exported item's tags, sorted: read once for a whole build (an item has a few tags at most)."""
    rows = (
        ItemTag.objects.filter(item__project=project, item__excluded_reason="")
        .order_by("item_id", "name")
        .values_list("item_id", "name")
    )
    tags: dict[int, list[str]] = {}
    for item_id, name in rows.iterator(chunk_size=CHUNK):
        tags.setdefault(item_id, []).append(name)
    return tags


def accepted_writing(project: Project) -> QuerySet:
    """Demonstrations and refusal cases that may be trained on: accepted by a reviewer, or not rejected when the
    project needs no review. Reviewer edits are already in the payload."""
    written = Annotation.objects.filter(
        project=project, kind__in=[Kind.DEMONSTRATION, Kind.REFUSAL], item__excluded_reason=""
    )
    return _may_train(project, written)


def _may_train(project: Project, written: QuerySet) -> QuerySet:
    """The rule for every text an annotator writes: accepted by a reviewer, or not rejected when the project needs
    no review."""
    if project.require_review:
        return written.filter(review_status=Annotation.ReviewStatus.ACCEPTED)
    return written.exclude(review_status=Annotation.ReviewStatus.REJECTED)


def export_writing(project: Project):
    """(annotation id, item id, payload) of accepted writing, in item order, streamed."""
    rows = accepted_writing(project).order_by("item_id", "id").values_list("id", "item_id", "payload")
    return rows.iterator(chunk_size=CHUNK)


def export_judgments(project: Project, *, include_model_review: bool):
    """(annotation id, item id, signed score, better response, ranking, choice) of pairwise judgments, in item
    order, streamed. The score is set on A/B items; a ranked item's judgments carry a ranking (or, stored before
    rankings, a choice). Self-consistency repeats are not data."""
    kinds = list(PAIRWISE_KINDS) if include_model_review else [Kind.PREFERENCE]
    rows = (
        Annotation.objects.filter(project=project, kind__in=kinds, is_repeat=False, item__excluded_reason="")
        .order_by("item_id", "id")
        .values_list(
            "id", "item_id", "preference_score", "payload__better_response", "payload__ranking", "payload__choice"
        )
    )
    return rows.iterator(chunk_size=CHUNK)


def adjudicated(project: Project) -> dict[int, tuple]:
    return {
        item_id: (choice, strength)
        for item_id, choice, strength in Adjudication.objects.filter(
            item__project=project, item__excluded_reason=""
        ).values_list("item_id", "choice", "strength")
    }


def better_responses(project: Project, *, include_model_review: bool) -> QuerySet:
    """Pairwise judgments where the annotator wrote a better response of their own that may be trained on: it is
    reviewed like any other text the annotator writes."""
    kinds = list(PAIRWISE_KINDS) if include_model_review else [Kind.PREFERENCE]
    written = (
        Annotation.objects.filter(project=project, kind__in=kinds, is_repeat=False, item__excluded_reason="")
        .exclude(payload__better_response=None)
        .exclude(payload__better_response="")
    )
    return _may_train(project, written)


def export_better_responses(project: Project, *, include_model_review: bool):
    """(annotation id, item id, better response, accepted by a reviewer) of trainable better responses, in item
    order, streamed."""
    rows = (
        better_responses(project, include_model_review=include_model_review)
        .order_by("item_id", "id")
        .values_list("id", "item_id", "payload__better_response", "review_status")
    )
    return (
        (row_id, item_id, text, status == Annotation.ReviewStatus.ACCEPTED)
        for row_id, item_id, text, status in rows.iterator(chunk_size=CHUNK)
    )
