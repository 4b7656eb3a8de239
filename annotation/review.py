"""Reviewing: accept, reject with a reason, or edit and accept written work (demonstrations, refusals, better
responses); adjudicate pairs; gold."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from annotation.item_validation import gold_errors
from annotation.models import Adjudication, Annotation, Item, Membership, RejectReason, Review
from annotation.payloads import is_ranked, ranking_errors, strength_error, validate_payload
from annotation.projects import ensure_writable
from annotation.slots import open_slots_recount
from annotation.taxonomy import MAX_RATIONALE_CHARS, PAIRWISE_KINDS, TIE, Kind
from annotation.text import clean, clean_fields

REVIEWED_KINDS = (Kind.DEMONSTRATION, Kind.REFUSAL)
# A better response an annotator writes on a judgment is text they wrote: it is reviewed like a demonstration.
WRITTEN = Q(kind__in=REVIEWED_KINDS) | (
    Q(kind__in=PAIRWISE_KINDS, is_repeat=False, payload__has_key="better_response")
    & ~Q(payload__better_response=None)
    & ~Q(payload__better_response="")
)


FLAGGED = Q(kind=Kind.REFUSAL, payload__disagree=True)
UNDO_SECONDS = 60


def review_queue(
    membership: Membership, *, annotator: str = "", kind: str = "", task_type: str = "", flagged: bool | None = None
) -> QuerySet[Annotation]:
    """Pending written work (demonstrations, refusals, better responses) that this reviewer did not write; items
    flagged by annotators first. The keyword filters narrow it (empty or None: no filter)."""
    queue = Annotation.objects.filter(
        WRITTEN, project=membership.project, review_status=Annotation.ReviewStatus.PENDING
    ).exclude(annotator=membership.user)
    if annotator:
        queue = queue.filter(annotator__username=annotator)
    if kind:
        queue = queue.filter(kind=kind)
    if task_type:
        queue = queue.filter(item__task_type=task_type)
    queue = queue.annotate(flagged=Case(When(FLAGGED, then=Value(0)), default=Value(1), output_field=IntegerField()))
    if flagged is not None:
        queue = queue.filter(FLAGGED) if flagged else queue.filter(flagged=1)
    return queue.select_related("item", "annotator", "assignment").order_by("flagged", "id")


def review_next(queue: QuerySet[Annotation], *, after: int | None = None, show: int | None = None) -> Annotation | None:
    """The annotation to show from `queue`: `show` when it is still in it, else the first one after annotation
    `after` in the queue's order (flagged first, then by id), wrapping around to the start."""
    if show is not None and (shown := queue.filter(id=show).first()):
        return shown
    # Unflagged work is most of the queue: its pick walks the primary key and stops at the first match. Flagged work
    # is rare: ordering by an expression keeps PostgreSQL off that walk (through every pending row when none is
    # flagged) and on the (project, review_status, kind) index, sorting the few matches.
    ids = queue.values_list("id", flat=True)
    flagged, plain = ids.filter(FLAGGED).order_by(F("id") + 0), ids.filter(flagged=1).order_by("id")
    picks = [flagged, plain]
    anchor = list(Annotation.objects.filter(id=after).values_list("kind", "payload__disagree")[:1]) if after else []
    if anchor and anchor[0][0] == Kind.REFUSAL and anchor[0][1] in (True, 1):
        picks = [flagged.filter(id__gt=after), plain, flagged]
    elif anchor:
        picks = [plain.filter(id__gt=after), flagged, plain]
    for pick in picks:
        if (found := pick.first()) is not None:
            return queue.get(id=found)
    return None


def queue_size(queue: QuerySet[Annotation], *, cap: int = 1000) -> tuple[int, bool]:
    """How many annotations wait in `queue`, counted up to `cap` (a full count of a huge queue costs a scan of
    it); the flag says whether there are more."""
    counted = queue.order_by().values("id")[: cap + 1].count()
    return min(counted, cap), counted > cap


@transaction.atomic
def review_decide(
    *, membership: Membership, annotation_id: int, decision: str, reason: str = "", note: str = "", payload=None
) -> Review:
    """Record a reviewer's decision, keeping the payload before it in the history.

    For edit_accept, `payload` holds the edited fields only: they replace those fields, a None removes one, and
    every field the edit does not name (follow-up turns, the refusal flag, ...) stays as the annotator wrote it.
    """
    reason, note, payload = clean_fields(reason=reason, note=note, payload=payload)
    ensure_writable(membership.project)
    annotation = (
        Annotation.objects.select_for_update(of=("self",))
        .select_related("item", "project")
        .filter(WRITTEN, id=annotation_id, project=membership.project)
        .first()
    )
    if annotation is None:
        raise Http404("No such annotation to review.")
    if annotation.annotator_id == membership.user_id:
        raise Conflict("Reviewers do not review their own work.")
    if annotation.review_status != Annotation.ReviewStatus.PENDING:
        raise Conflict(f"This annotation was already {annotation.review_status}.")
    if decision not in Review.Decision.values:
        raise InvalidInput(f"unknown decision {decision!r}", field="decision")
    if decision == Review.Decision.REJECT and reason not in RejectReason.values:
        raise InvalidInput("Pick the reason for rejecting.", field="reason")
    if len(note) > MAX_RATIONALE_CHARS:
        raise InvalidInput(f"The note is over {MAX_RATIONALE_CHARS} characters.", field="note")
    before = annotation.payload
    after = before
    if decision == Review.Decision.EDIT_ACCEPT:
        if not isinstance(payload, dict):
            raise InvalidInput("An edit needs the changed fields as an object.", field="payload")
        if annotation.kind in PAIRWISE_KINDS and set(payload) - {"better_response"}:
            raise InvalidInput(
                "A reviewer edits only the better response; the judgment stays the annotator's.", field="payload"
            )
        edited = {name: value for name, value in {**before, **payload}.items() if value is not None}
        after = validate_payload(item=annotation.item, project=annotation.project, payload=edited)
        if after == before:
            raise InvalidInput("Nothing was edited; accept it instead.", field="payload")
        annotation.payload = after
    annotation.review_status = (
        Annotation.ReviewStatus.REJECTED if decision == Review.Decision.REJECT else Annotation.ReviewStatus.ACCEPTED
    )
    annotation.save(update_fields=["payload", "review_status", "updated_at"])
    payload_before, payload_after = _payload_change(before, after)
    audit_record(
        actor=membership.user,
        project=membership.project,
        action=Action.REVIEW,
        target=f"annotation {annotation.id}",
        before={"review_status": Annotation.ReviewStatus.PENDING, **payload_before},
        after={"review_status": annotation.review_status, "decision": decision, "reason": reason, **payload_after},
    )
    return Review.objects.create(
        annotation=annotation,
        reviewer=membership.user,
        decision=decision,
        reason=reason if decision == Review.Decision.REJECT else "",
        note=note.strip(),
        payload_before=before,
        payload_after=after,
    )


@transaction.atomic
def review_undo(*, membership: Membership, review_id: int) -> Annotation:
    """Take back one's own decision within a minute: the annotation gets its payload from before the decision and
    waits for review again; refused once the annotation changed since (another review, the annotator's revision)."""
    ensure_writable(membership.project)
    review = (
        Review.objects.select_related("annotation").filter(id=review_id, annotation__project=membership.project).first()
    )
    if review is None:
        raise Http404("No such review.")
    annotation = Annotation.objects.select_for_update(of=("self",)).get(id=review.annotation_id)
    if review.reviewer_id != membership.user_id:
        raise Conflict("Only the reviewer who made a decision can undo it.")
    if timezone.now() - review.created_at > timedelta(seconds=UNDO_SECONDS):
        raise Conflict(
            "A decision can be undone for one minute only; this one stands. Review it again from its history."
        )
    status = (
        Annotation.ReviewStatus.REJECTED
        if review.decision == Review.Decision.REJECT
        else Annotation.ReviewStatus.ACCEPTED
    )
    changed = (
        annotation.review_status != status
        or annotation.payload != review.payload_after
        or annotation.updated_at > review.created_at
        or annotation.reviews.filter(id__gt=review.id).exists()
        or annotation.edits.filter(created_at__gt=review.created_at).exists()
    )
    if changed:
        raise Conflict("This annotation changed after your decision, so it cannot be undone.")
    annotation.payload = review.payload_before
    annotation.review_status = Annotation.ReviewStatus.PENDING
    annotation.save(update_fields=["payload", "review_status", "updated_at"])
    payload_before, payload_after = _payload_change(review.payload_after, review.payload_before)
    audit_record(
        actor=membership.user,
        project=membership.project,
        action=Action.REVIEW_UNDO,
        target=f"annotation {annotation.id}",
        before={"review_status": status, "decision": review.decision, "reason": review.reason, **payload_before},
        after={"review_status": Annotation.ReviewStatus.PENDING, **payload_after},
    )
    review.delete()
    return annotation


def _payload_change(before: dict, after: dict) -> tuple[dict, dict]:
    """The payload fields an edit changed, as {"payload": {...}} before and after (empty dicts when none)."""
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    if not changed:
        return {}, {}
    return {"payload": {name: before.get(name) for name in changed}}, {
        "payload": {name: after.get(name) for name in changed}
    }


def disputed_item(*, membership: Membership, item_id: int) -> tuple[Item, QuerySet[Annotation]]:
    item = Item.objects.filter(id=item_id, project=membership.project, kind__in=PAIRWISE_KINDS).first()
    if item is None:
        raise Http404("No such pairwise item.")
    return item, item.annotations.select_related("annotator", "assignment").order_by("id")


@transaction.atomic
def adjudicate(
    *, membership: Membership, item_id: int, choice, strength: str = "", rationale: str = ""
) -> Adjudication:
    """Set the final label of a pairwise item; it overrides the annotators' majority in exports. A ranked item's
    label is a full ranking (tiers of response ids, best first) with no strength, as its annotators give."""
    choice, strength, rationale = clean_fields(choice=choice, strength=strength, rationale=rationale)
    ensure_writable(membership.project)
    item, _ = disputed_item(membership=membership, item_id=item_id)
    if is_ranked(item):
        if errors := ranking_errors(choice, len(item.responses), field="choice"):
            (field, message), *_ = errors
            listed = [{"field": name, "message": text} for name, text in errors]
            raise InvalidInput(f"{field} {message}", field=field, errors=listed)
        if strength not in (None, ""):
            raise InvalidInput("strength does not apply to a ranking; leave it empty", field="strength")
    else:
        if isinstance(choice, bool) or (choice != TIE and choice not in range(len(item.responses))):
            raise InvalidInput("Choose one of the responses or a tie.", field="choice")
        if message := strength_error(choice, strength):
            raise InvalidInput(f"strength {message}", field="strength")
    earlier = Adjudication.objects.filter(item=item).values("choice", "strength").first()
    adjudication, _ = Adjudication.objects.update_or_create(
        item=item,
        defaults={
            "choice": choice,
            "strength": strength if strength and choice != TIE else "",
            "rationale": rationale.strip()[:MAX_RATIONALE_CHARS],
            "adjudicator": membership.user,
        },
    )
    audit_record(
        actor=membership.user,
        project=membership.project,
        action=Action.ADJUDICATE,
        target=f"item {item.id}",
        before=earlier,
        after={"choice": adjudication.choice, "strength": adjudication.strength},
    )
    return adjudication


@transaction.atomic
def item_set_gold(*, membership: Membership, item_id: int, gold) -> Item:
    """Mark an item as gold with its expected answer (None removes the mark)."""
    gold = clean(gold, "gold")
    ensure_writable(membership.project)
    item = Item.objects.select_for_update().filter(id=item_id, project=membership.project).first()
    if item is None:
        raise Http404("No such item.")
    if gold is not None and (errors := gold_errors(item.kind, gold, item.responses)):
        raise InvalidInput(f"{errors[0][0]} {errors[0][1]}", field=errors[0][0])
    before = item.gold
    item.gold, item.is_gold = gold, gold is not None
    item.save(update_fields=["gold", "is_gold"])
    if gold is None:
        open_slots_recount(project=membership.project, item_ids=[item.id])  # gold work never took a slot
    audit_record(
        actor=membership.user,
        project=membership.project,
        action=Action.GOLD_SET if gold is not None else Action.GOLD_CLEAR,
        target=f"item {item.id}",
        before={"gold": before},
        after={"gold": gold},
    )
    return item


def gold_from_adjudication(*, membership: Membership, item_id: int) -> Item:
    """Promote an adjudicated pairwise item to gold with the adjudicated choice (refused for ranked items, as
    `gold_errors` says why)."""
    adjudication = Adjudication.objects.filter(item_id=item_id, item__project=membership.project).first()
    if adjudication is None:
        raise Conflict("Adjudicate the item before promoting it to gold.")
    return item_set_gold(membership=membership, item_id=item_id, gold={"choice": adjudication.choice})
