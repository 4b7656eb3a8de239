"""An annotation's history after submission: reviewers' decisions and the annotator's own revisions, in time
order, and what a resubmission changed since the rejection."""

from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile

from django.db.models import Case, IntegerField, QuerySet, Value, When

from annotation.models import Annotation, Membership, Review
from annotation.payload_display import readable_diff
from annotation.taxonomy import REVIEW_DECISION_LABELS


def own_work(membership: Membership, *, review: str = "all") -> QuerySet[Annotation]:
    """The member's own annotations, newest first, work returned to them by a reviewer before the rest; `review`
    narrows to one review status ("all" for every one)."""
    returned = Case(
        When(review_status=Annotation.ReviewStatus.REJECTED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    mine = Annotation.objects.filter(project=membership.project, annotator=membership.user)
    if review != "all":
        mine = mine.filter(review_status=review)
    return (
        mine.select_related("item").prefetch_related("reviews").annotate(returned=returned).order_by("returned", "-id")
    )


@dataclass(frozen=True)
class HistoryEntry:
    title: str
    actor: str
    at: datetime
    diff: list[tuple[str, str]]
    before: dict
    after: dict
    reason: str = ""
    note: str = ""
    revision: bool = False
    rejection: bool = False


@dataclass(frozen=True)
class Resubmission:
    reason: str
    note: str
    diff: list[tuple[str, str]]


def annotation_history(annotation: Annotation) -> list[HistoryEntry]:
    """Every review and every revision by the annotator, oldest first (two queries)."""
    events = [(review.created_at, 0, review.id, review) for review in annotation.reviews.select_related("reviewer")]
    events += [(edit.created_at, 1, edit.id, edit) for edit in annotation.edits.select_related("editor")]
    events.sort(key=lambda event: event[:3])
    entries, rejected = [], False
    for _, is_edit, _, event in events:
        diff = readable_diff(event.payload_before, event.payload_after)
        if is_edit:
            entries.append(
                HistoryEntry(
                    title="Resubmitted for review" if rejected else "Revised by the annotator",
                    actor=event.editor.username if event.editor else "(removed user)",
                    at=event.created_at,
                    diff=diff,
                    before=event.payload_before,
                    after=event.payload_after,
                    revision=True,
                )
            )
            rejected = False
            continue
        rejected = event.decision == Review.Decision.REJECT
        entries.append(
            HistoryEntry(
                title=REVIEW_DECISION_LABELS.get(event.decision, event.get_decision_display()),
                actor=event.reviewer.username,
                at=event.created_at,
                diff=diff,
                before=event.payload_before,
                after=event.payload_after,
                reason=event.get_reason_display() if event.reason else "",
                note=event.note,
                rejection=rejected,
            )
        )
    return entries


def resubmission(history: list[HistoryEntry]) -> Resubmission | None:
    """The latest rejection that the annotator answered with revisions: its reason and note, and the diff from the
    rejected text to the text they resubmitted (their last revision before the next decision)."""
    found = None
    for at, entry in enumerate(history):
        revisions = list(takewhile(lambda later: later.revision, history[at + 1 :])) if entry.rejection else []
        if revisions:
            found = (entry, revisions[-1])
    if found is None:
        return None
    rejection, revised = found
    return Resubmission(
        reason=rejection.reason, note=rejection.note, diff=readable_diff(rejection.after, revised.after)
    )
