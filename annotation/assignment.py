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
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from annotation.drafts import draft_resume
from annotation.errors import Conflict, Gone, InvalidInput
from annotation.metrics.coverage import under_covered_cached
from annotation.models import Annotation, Assignment, Draft, Item, Membership, Project
from annotation.payloads import preference_columns, validate_payload
from annotation.projects import ensure_writable
from annotation.queues import Queue, queue_check
from annotation.rows import Columns, first, for_update, select
from annotation.selectors import assignment_missing
from annotation.taxonomy import PAIRWISE_KINDS, Kind
from annotation.text import clean

Status = Assignment.Status
_ASSIGNMENTS, _ITEMS = Assignment._meta.db_table, Item._meta.db_table
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


_OVERDUE = "project_id = %s AND status = %s AND expires_at < %s"


def leases_reclaim(*, project: Project) -> int:
    """Expire the project's overdue leases and return their slots to the pool; return how many expired."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    overdue = [project.id, Status.ACTIVE, now]
    with connection.cursor() as cursor:  # every request for work looks: one indexed statement, no ORM to build
        cursor.execute(f"SELECT 1 FROM {_ASSIGNMENTS} WHERE {_OVERDUE} LIMIT 1", overdue)
        if cursor.fetchone() is None:
            return 0
    with transaction.atomic(), connection.cursor() as cursor:
        # The status test in WHERE makes each lease expire once, however many callers race here.
        cursor.execute(
            f"UPDATE {_ASSIGNMENTS} SET status = %s, updated_at = %s WHERE {_OVERDUE} RETURNING item_id, repeat_of_id",
            [Status.EXPIRED, now, *overdue],
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


def _in_queue(items, queue: Queue, prefix: str = ""):
    if queue.kind:
        items = items.filter(**{f"{prefix}kind": queue.kind})
    if queue.task_type:
        items = items.filter(**{f"{prefix}task_type": queue.task_type})
    return items


# Every column an annotator's page or the engine reads: the item's near-duplicate signature stays behind.
_ITEM = Columns(Item, None, without=("minhash",))
# The kind spelled out, not a parameter: a prepared statement's generic plan can then use the partial index of
# open model_review items.
_REVIEW = f"kind = '{Kind.MODEL_REVIEW}'"
_OTHERS = f"in_pool AND NOT {_REVIEW}"
_REVIEWS = f"in_pool AND {_REVIEW}"


def _unseen(project: Project, user, queue: Queue, where: str, params=(), *, lock: bool = True) -> tuple[str, list]:
    """SQL for the id of the project's first item in `queue` meeting `where` that the user was never assigned,
    nearest completion first (so finished items reach review and export sooner); on PostgreSQL locked, passing over
    items a concurrent claim holds.

    The pick is written as SQL because it runs on every request for work, where the ORM took longer to build and
    compile the query than PostgreSQL to run it. NOT IN (a hashed list of the user's items) rather than NOT EXISTS:
    while the assignment table's statistics are stale (a fresh project, autovacuum not yet round) PostgreSQL plans
    the anti-join as a nested loop that rescans all the user's assignments for every item the pool walk passes."""
    conditions = [
        "project_id = %s",
        f"id NOT IN (SELECT item_id FROM {_ASSIGNMENTS} WHERE project_id = %s AND annotator_id = %s)",
        where,
    ]
    args = [project.id, project.id, user.id, *params]
    for column, value in (("kind", queue.kind), ("task_type", queue.task_type)):
        if value:
            conditions.append(f"{column} = %s")
            args.append(value)
    sql = f"SELECT id FROM {_ITEMS} WHERE {' AND '.join(conditions)} ORDER BY completed_count DESC, id LIMIT 1"
    return sql + (for_update(skip_locked=True) if lock else ""), args


def _first(sql: str, args: list) -> Item | None:
    found = first(sql, args, _ITEM)
    return found and found[0]


def _take(id_sql: str, args: list) -> Item | None:
    """The pool item `id_sql` picks, one of its open slots taken in the same statement."""
    sql = f"UPDATE {_ITEMS} SET open_slots = open_slots - 1 WHERE id = ({id_sql}) RETURNING {select(_ITEM)}"
    return _first(sql, args)


def _take_first(project: Project, user, queue: Queue, where: str, params=()) -> Item | None:
    return _take(*_unseen(project, user, queue, where, params))


def _review_first(project: Project, user, queue: Queue) -> Item | None:
    """The first open model_review item, else the first other item, in one statement. A concurrent claim may hold
    both (SKIP LOCKED passes them over), hence the second look at the whole pool."""
    reviews, review_args = _unseen(project, user, queue, _REVIEWS, lock=False)
    others, other_args = _unseen(project, user, queue, _OTHERS, lock=False)
    either = (
        f"SELECT id FROM {_ITEMS} WHERE in_pool AND id IN (({reviews}), ({others})) ORDER BY {_REVIEW} DESC LIMIT 1"
    )
    return _take(either + for_update(skip_locked=True), [*review_args, *other_args]) or _take_first(
        project, user, queue, "in_pool"
    )


def _pick(project: Project, user, *, gold: bool, queue: Queue) -> Item | None:
    if gold:  # gold items hold no slots: read, not taken
        sql, args = _unseen(project, user, queue, "is_gold")
        return _first(f"SELECT {select(_ITEM)} FROM {_ITEMS} WHERE id = ({sql})", args)
    if queue.kind:
        if queue.kind == Kind.MODEL_REVIEW:
            return _take_first(project, user, queue, _REVIEWS)
        return _pick_other(project, user, queue)
    share = project.model_review_share
    if not (share > 0 and random.random() < share):
        return _pick_other(project, user, queue) or _take_first(project, user, queue, _REVIEWS)
    if project.prioritise_coverage:
        return _take_first(project, user, queue, _REVIEWS) or _pick_other(project, user, queue)
    return _review_first(project, user, queue)


def _pick_other(project: Project, user, queue: Queue) -> Item | None:
    if project.prioritise_coverage and not queue.task_type:
        for task_type in under_covered_cached(project):
            if item := _take_first(project, user, queue, f"{_OTHERS} AND task_type = %s", [task_type]):
                return item
    return _take_first(project, user, queue, _OTHERS)


def _resumable(project: Project, user, now) -> list[tuple[Assignment, bool]]:
    """The user's live assignment (True) or, failing that, the lapsed ones whose drafts could come back (False),
    newest draft first, locked, at most RESUME_TRIES of them.

    An expired lease gave its slot back: its draft can come back only while the item has room (gold items and
    repeats hold no slot); filtering here keeps drafts that can never come back off every later request. The status
    test, which both sides imply, is spelled out for the index (annotator, project, status): the look reads the
    user's live and lapsed assignments only, not every one they have submitted. Most requests find nothing, so the
    look is one statement of SQL, and only what it finds is loaded through the ORM."""
    live = "a.status = %s AND a.expires_at > %s"
    live_args = [Status.ACTIVE, connection.ops.adapt_datetimefield_value(now)]
    room = "a.status = %s OR i.open_slots > 0 OR i.is_gold OR a.repeat_of_id IS NOT NULL"
    sql = (
        f"SELECT a.id, ({live}) FROM {_ASSIGNMENTS} a JOIN {_ITEMS} i ON i.id = a.item_id"
        f" LEFT JOIN {Draft._meta.db_table} d ON d.assignment_id = a.id"
        f" WHERE a.project_id = %s AND a.annotator_id = %s AND a.status IN (%s, %s)"
        f" AND (({live}) OR (d.id IS NOT NULL AND ({room})))"
        f" ORDER BY 2 DESC, d.updated_at DESC LIMIT {RESUME_TRIES}{for_update('a')}"
    )
    args = [*live_args, project.id, user.id, Status.ACTIVE, Status.EXPIRED, *live_args, Status.ACTIVE]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        found = cursor.fetchall()
    if not found:
        return []
    loaded = Assignment.objects.select_related("project", "item", "draft").in_bulk([row[0] for row in found])
    return [(loaded[assignment_id], bool(live)) for assignment_id, live in found]


def _claim(project: Project, user, queue: Queue) -> Assignment | None:
    now = timezone.now()
    for assignment, live in _resumable(project, user, now):
        if live or draft_resume(assignment):
            return assignment
    if project.repeat_rate and random.random() < project.repeat_rate and (repeat := _repeat(project, user, now, queue)):
        return repeat
    want_gold = project.gold_rate > 0 and random.random() < project.gold_rate
    item = (_pick(project, user, gold=True, queue=queue) if want_gold else None) or _pick(
        project, user, gold=False, queue=queue
    )
    if item is None:
        return None
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


_LOCKED = (Columns(Assignment, "a"), Columns(Item, "i", without=("minhash",)), Columns(Project, "p"))


def _locked_assignment(assignment_id: int, user) -> Assignment:
    """The user's own assignment, with its item and project, in a project they still belong to, locked."""
    low, high = connection.ops.integer_field_range(Assignment._meta.pk.get_internal_type())
    if not low <= assignment_id <= high:  # no such id; SQLite would refuse it as a parameter
        assignment_missing(assignment_id, user)
    found = first(
        f"SELECT {select(*_LOCKED)} FROM {_ASSIGNMENTS} a"
        f" JOIN {_ITEMS} i ON i.id = a.item_id JOIN {Project._meta.db_table} p ON p.id = a.project_id"
        f" WHERE a.id = %s AND a.annotator_id = %s AND EXISTS (SELECT 1 FROM {Membership._meta.db_table} m"
        f" WHERE m.project_id = a.project_id AND m.user_id = %s){for_update('a')}",
        [assignment_id, user.id, user.id],
        *_LOCKED,
    )
    if found is None:
        assignment_missing(assignment_id, user)
    assignment, assignment.item, assignment.project = found
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
            assignment.status, assignment.updated_at = Status.SUBMITTED, timezone.now()
            with connection.cursor() as cursor:  # SQL, as the rest of the hot path (docs/assignment-engine.md)
                cursor.execute(
                    f"UPDATE {_ASSIGNMENTS} SET status = %s, updated_at = %s WHERE id = %s",
                    [assignment.status, connection.ops.adapt_datetimefield_value(assignment.updated_at), assignment.id],
                )
                if not annotation.is_repeat:
                    cursor.execute(
                        f"UPDATE {_ITEMS} SET completed_count = completed_count + 1 WHERE id = %s", [item.id]
                    )
            return annotation, True
    except IntegrityError:
        # A client_id already used (client_id is unique): the first submission's answer, or a Conflict.
        if earlier := _earlier_submission(client_id, assignment_id):
            return earlier, False
        raise
