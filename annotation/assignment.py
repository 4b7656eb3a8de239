"""The assignment engine: hand out items under overlap and leases, take skips and submissions.

Concurrency: on PostgreSQL the pick runs `SELECT … FOR UPDATE SKIP LOCKED` and every claim
updates the item row, so a competing transaction re-checks `open_slots` against the new row.
On SQLite every transaction begins IMMEDIATE (settings), which serialises writers.
"""

import random
import uuid
from collections import Counter
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from annotation.drafts import draft_resume
from annotation.errors import Conflict, Gone, InvalidInput
from annotation.metrics.coverage import under_covered_cached
from annotation.models import Annotation, Assignment, Item, Project
from annotation.payloads import preference_columns, validate_payload
from annotation.projects import ensure_writable
from annotation.queues import Queue, queue_check
from annotation.selectors import assignment_missing
from annotation.taxonomy import PAIRWISE_KINDS, Kind
from annotation.text import clean

Status = Assignment.Status
MAX_TIME_SPENT_MS = 24 * 3600 * 1000
MAX_SKIP_REASON = 500


REPEAT_AFTER = 10  # a repeat re-shows an item judged at least this many assignments ago
REPEAT_WINDOW = 50
RESUME_TRIES = 5  # lapsed drafts looked at per request, newest first


def _release_slots(item_ids) -> None:
    """Give ended leases' slots back, never past the item's overlap: after an admin lowers the overlap, an item can
    hold more live leases than it now wants, and those leases' ends must not reopen it. (A lease claimed meanwhile
    is not yet visible to the count, which only errs toward giving the slot back, as that claim took one.)"""
    live = (
        Assignment.objects.filter(item=OuterRef("pk"), status=Status.ACTIVE, repeat_of__isnull=True)
        .values("item")
        .annotate(n=Count("id"))
        .values("n")
    )
    overlap = Project.objects.filter(id=OuterRef("project_id")).values("overlap")
    room = Subquery(overlap) + F("extra_overlap") - F("completed_count") - Coalesce(Subquery(live), 0)
    for item_id, count in Counter(item_ids).items():
        Item.objects.filter(id=item_id, is_gold=False).update(
            open_slots=Greatest(Least(F("open_slots") + count, room), 0)
        )


def leases_reclaim(*, project: Project) -> int:
    """Expire the project's overdue leases and return their slots to the pool; return how many expired."""
    now = timezone.now()
    overdue = Assignment.objects.filter(project=project, status=Status.ACTIVE, expires_at__lt=now)
    if not overdue.exists():
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        # The status test in WHERE makes each lease expire once, however many callers race here.
        cursor.execute(
            f"UPDATE {Assignment._meta.db_table} SET status = %s, updated_at = %s"
            " WHERE project_id = %s AND status = %s AND expires_at < %s RETURNING item_id, repeat_of_id",
            [Status.EXPIRED, now, project.id, Status.ACTIVE, now],
        )
        expired = cursor.fetchall()
        _release_slots(item_id for item_id, repeat_of in expired if repeat_of is None)
    return len(expired)


def leases_release(*, project: Project, user) -> int:
    """Expire the user's live leases in the project at once and return their slots (e.g. on leaving the project);
    their drafts stay. Returns how many were released."""
    with transaction.atomic():
        leases = Assignment.objects.select_for_update().filter(project=project, annotator=user, status=Status.ACTIVE)
        released = list(leases.values_list("id", "item_id", "repeat_of_id"))
        Assignment.objects.filter(id__in=[row[0] for row in released]).update(
            status=Status.EXPIRED, updated_at=timezone.now()
        )
        _release_slots(item_id for _, item_id, repeat_of in released if repeat_of is None)
    return len(released)


NEAREST_COMPLETION = ("-completed_count", "id")  # so finished items reach review and export sooner


def _locked(pool):
    return pool.select_for_update(skip_locked=True, of=("self",))


def _in_queue(items, queue: Queue, prefix: str = ""):
    if queue.kind:
        items = items.filter(**{f"{prefix}kind": queue.kind})
    if queue.task_type:
        items = items.filter(**{f"{prefix}task_type": queue.task_type})
    return items


def _pick(project: Project, user, *, gold: bool, queue: Queue) -> Item | None:
    # NOT IN (a hashed list of the user's items) rather than NOT EXISTS: while the assignment table's statistics
    # are stale (a fresh project, autovacuum not yet round) PostgreSQL plans the anti-join as a nested loop that
    # rescans all the user's assignments for every item the pool walk passes, which grows with the user's work.
    seen = Assignment.objects.filter(project=project, annotator=user).values("item_id")
    unseen = _in_queue(Item.objects.filter(project=project), queue).exclude(id__in=seen).order_by(*NEAREST_COMPLETION)
    if gold:
        return _locked(unseen.filter(is_gold=True)).first()
    review = Q(kind=Kind.MODEL_REVIEW)
    others = unseen.filter(in_pool=True).exclude(review)
    reviews = unseen.filter(review, in_pool=True)
    share = project.model_review_share
    if queue.kind:
        return _locked(reviews).first() if queue.kind == Kind.MODEL_REVIEW else _pick_other(project, others, queue)
    if not (share > 0 and random.random() < share):
        return _pick_other(project, others, queue) or _locked(reviews).first()
    if project.prioritise_coverage:
        return _locked(reviews).first() or _pick_other(project, others, queue)
    # One query: the first open model_review item, else the first other item. A concurrent claim may hold both
    # (SKIP LOCKED drops them), hence the second look at the whole pool.
    firsts = Q(id=Subquery(reviews.values("id")[:1])) | Q(id=Subquery(others.values("id")[:1]))
    either = Item.objects.filter(firsts, in_pool=True).order_by(Case(When(review, then=Value(0)), default=Value(1)))
    return _locked(either).first() or _locked(unseen.filter(in_pool=True)).first()


def _pick_other(project: Project, others, queue: Queue) -> Item | None:
    others = _locked(others)
    if project.prioritise_coverage and not queue.task_type:
        for task_type in under_covered_cached(project):
            if item := others.filter(task_type=task_type).first():
                return item
    return others.first()


def _claim(project: Project, user, queue: Queue) -> Assignment | None:
    now = timezone.now()
    live = Q(status=Status.ACTIVE, expires_at__gt=now)
    # An expired lease gave its slot back: its draft can come back only while the item has room (gold items and
    # repeats hold no slot). Filtering here keeps drafts that can never come back off every later request.
    room = Q(status=Status.ACTIVE) | Q(item__open_slots__gt=0) | Q(item__is_gold=True) | Q(repeat_of__isnull=False)
    # The status test, which both sides imply, is spelled out for the index (annotator, project, status): the
    # look then reads the user's live and lapsed assignments only, not every one they have submitted.
    mine = Assignment.objects.filter(
        live | (Q(draft__isnull=False) & room),
        project=project,
        annotator=user,
        status__in=[Status.ACTIVE, Status.EXPIRED],
    )
    # A cheap look first: most requests find nothing of the user's to come back to, and building and reading the
    # full query below costs more than the rest of the pick.
    if mine.exists():
        # The live assignment or, failing that, the lapsed ones whose drafts could come back, in one query.
        resumable = (
            mine.select_related("project", "item", "draft")
            .select_for_update(of=("self",))
            .annotate(live=Case(When(live, then=Value(1)), default=Value(0), output_field=IntegerField()))
            .order_by("-live", "-draft__updated_at")
        )
        for assignment in resumable[:RESUME_TRIES]:
            if assignment.live or draft_resume(assignment):
                return assignment
    if project.repeat_rate and random.random() < project.repeat_rate and (repeat := _repeat(project, user, now, queue)):
        return repeat
    want_gold = project.gold_rate > 0 and random.random() < project.gold_rate
    item = (_pick(project, user, gold=True, queue=queue) if want_gold else None) or _pick(
        project, user, gold=False, queue=queue
    )
    if item is None:
        return None
    if not item.is_gold:
        Item.objects.filter(id=item.id).update(open_slots=F("open_slots") - 1)
    order = list(range(len(item.responses)))
    if item.kind in PAIRWISE_KINDS:
        random.shuffle(order)
    assignment = Assignment.objects.create(
        project=project,
        item=item,
        annotator=user,
        expires_at=now + timedelta(seconds=project.lease_seconds),
        response_order=order,
    )
    Assignment.draft.related.set_cached_value(assignment, None)  # a new assignment has no draft to look up
    return assignment


def _repeat(project: Project, user, now, queue: Queue) -> Assignment | None:
    """Re-show one of the annotator's earlier pairwise items, sides swapped, to measure self-consistency."""
    if queue.kind and queue.kind not in PAIRWISE_KINDS:
        return None
    earlier = list(
        _in_queue(Assignment.objects, queue, "item__")
        .filter(
            project=project,
            annotator=user,
            status=Status.SUBMITTED,
            repeat_of__isnull=True,
            repeat__isnull=True,
            item__kind__in=PAIRWISE_KINDS,
        )
        .select_related("item")
        .order_by("-id")[REPEAT_AFTER : REPEAT_AFTER + REPEAT_WINDOW]
    )
    if not earlier:
        return None
    original = random.choice(earlier)
    assignment = Assignment.objects.create(
        project=project,
        item=original.item,
        annotator=user,
        expires_at=now + timedelta(seconds=project.lease_seconds),
        response_order=list(reversed(original.response_order)),
        repeat_of=original,
    )
    Assignment.draft.related.set_cached_value(assignment, None)
    return assignment


def assignment_next(
    *, project: Project, user, kind: str | None = None, task_type: str | None = None
) -> Assignment | None:
    """The annotator's live assignment; else a lapsed one with a draft, leased again so that the text comes back
    (`resumed` set), while its item has room; else a new one on the item nearest completion, from the chosen queue
    (`kind` or `task_type`, where the project allows choosing; both in any queue); None when nothing is left;
    InvalidInput for a queue the project does not offer; Conflict on an archived project. Every surface (API, web
    page, next after submit) gets its work here."""
    queue = queue_check(project, kind=kind, task_type=task_type)
    ensure_writable(project)
    leases_reclaim(project=project)
    for _ in range(3):
        try:
            with transaction.atomic():
                return _claim(project, user, queue)
        except IntegrityError:
            continue  # the same annotator asked twice at once; the retry finds the live assignment
    raise Conflict("Could not assign an item; try again.")


def _locked_assignment(assignment_id: int, user) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("item", "project")
        .filter(id=assignment_id, annotator=user, project__memberships__user=user)
        .first()
    )
    if assignment is None:
        assignment_missing(assignment_id, user)
    return assignment


def assignment_skip(*, assignment_id: int, user, reason: str) -> Assignment:
    """Give the item back with a reason; the annotator will not be offered it again."""
    reason = clean(reason or "", "reason").strip()
    if not reason:
        raise InvalidInput("Say why you skip this item.", field="reason")
    if len(reason) > MAX_SKIP_REASON:
        raise InvalidInput(f"reason is over {MAX_SKIP_REASON} characters.", field="reason")
    with transaction.atomic():
        assignment = _locked_assignment(assignment_id, user)
        if assignment.status == Status.SKIPPED:
            return assignment
        if assignment.status != Status.ACTIVE:
            raise Conflict(f"This assignment is {assignment.status} and can no longer be skipped.")
        assignment.status = Status.SKIPPED
        assignment.skip_reason = reason
        assignment.save(update_fields=["status", "skip_reason", "updated_at"])
        if assignment.repeat_of_id is None:
            _release_slots([assignment.item_id])
    return assignment


def _retake_expired_slot(assignment: Assignment) -> None:
    if assignment.item.is_gold or assignment.repeat_of_id:
        return
    taken = Item.objects.filter(id=assignment.item_id, open_slots__gt=0).update(open_slots=F("open_slots") - 1)
    if not taken:
        raise Gone(
            "Your lease on this item expired and other annotators have since completed it. "
            "Your text was not submitted; copy it from the draft if you want to keep it."
        )


def _earlier_submission(client_id: uuid.UUID, assignment_id: int) -> Annotation | None:
    """The annotation made with `client_id` for this assignment (a retry), None when there is none; Conflict when
    the client_id went with another assignment. Only asked when the assignment is no longer open or the insert hit
    client_id's unique constraint, so a first submission costs no lookup."""
    earlier = Annotation.objects.select_related("annotator", "assignment").filter(client_id=client_id).first()
    if earlier and earlier.assignment_id != assignment_id:
        raise Conflict("This client_id was already used for another submission.", field="client_id")
    return earlier


def annotation_submit(
    *, assignment_id: int, user, client_id: uuid.UUID, payload, time_spent_ms: int | None = None
) -> tuple[Annotation, bool]:
    """Record the annotator's work once; a retry with the same client_id returns the first result (created=False)."""
    payload = clean(payload, "payload")
    if time_spent_ms is not None and not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS:
        raise InvalidInput(f"time_spent_ms must be between 0 and {MAX_TIME_SPENT_MS}.", field="time_spent_ms")
    try:
        with transaction.atomic():
            assignment = _locked_assignment(assignment_id, user)
            if assignment.status in (Status.SUBMITTED, Status.SKIPPED):
                if earlier := _earlier_submission(client_id, assignment.id):
                    return earlier, False
                if assignment.status == Status.SUBMITTED:
                    raise Conflict("This assignment was already submitted with another client_id.")
                raise Conflict("You skipped this item; it cannot be submitted.")
            ensure_writable(assignment.project)
            item = assignment.item
            payload = validate_payload(item=item, project=assignment.project, payload=payload)
            if assignment.status == Status.EXPIRED:
                _retake_expired_slot(assignment)
            annotation = Annotation.objects.create(
                project_id=assignment.project_id,
                item=item,
                assignment=assignment,
                annotator=user,
                kind=item.kind,
                payload=payload,
                client_id=client_id,
                time_spent_ms=time_spent_ms,
                is_repeat=assignment.repeat_of_id is not None,
                guideline_version=assignment.project.guidelines_version,
                **preference_columns(item=item, payload=payload, response_order=assignment.response_order),
            )
            assignment.status = Status.SUBMITTED
            assignment.save(update_fields=["status", "updated_at"])
            if not annotation.is_repeat:
                Item.objects.filter(id=item.id).update(completed_count=F("completed_count") + 1)
            return annotation, True
    except IntegrityError:
        # A client_id already used (client_id is unique): the first submission's answer, or a Conflict.
        if earlier := _earlier_submission(client_id, assignment_id):
            return earlier, False
        raise
