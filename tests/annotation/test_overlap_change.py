"""Changing a project's overlap recounts every item's open slots, counting live leases and completed work, also
while annotators keep taking and submitting tasks."""

import random
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from annotation.assignment import annotation_submit, assignment_next, assignment_skip, leases_reclaim
from annotation.audit import Action
from annotation.models import Annotation, Assignment, AuditEvent, Item, Membership
from annotation.project_settings import project_update
from annotation.projects import project_create
from tests.conftest import demo_rows


def submit(project, user):
    assignment = assignment_next(project=project, user=user)
    annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload={"response": "ok"})
    return assignment


def expected_slots(project) -> dict[int, int]:
    """Open slots from first principles: overlap + extra - completed - live (non-repeat) leases, at least 0."""
    live = Count("assignments", filter=Q(assignments__status="active", assignments__repeat_of__isnull=True))
    rows = Item.objects.filter(project=project, is_gold=False).annotate(live=live)
    return {item.id: max(0, project.overlap + item.extra_overlap - item.completed_count - item.live) for item in rows}


@pytest.mark.django_db
def test_overlap_up_and_down_recounts_open_slots_with_leases_and_completed_work(project, users, make_items):
    items = make_items(project, demo_rows(3))  # overlap 2
    submit(project, users["ann1"])  # item 0: one completed
    leased = assignment_next(project=project, user=users["ann2"])  # item 0: one live lease
    assert leased.item_id == items[0].id
    assert {item.id: item.open_slots for item in Item.objects.all()} == {items[0].id: 0, items[1].id: 2, items[2].id: 2}

    project_update(project=project, by=users["admin"], overlap=4)
    slots = dict(Item.objects.values_list("id", "open_slots"))
    assert slots == {items[0].id: 2, items[1].id: 4, items[2].id: 4}

    project_update(project=project, by=users["admin"], overlap=1)
    slots = dict(Item.objects.values_list("id", "open_slots"))
    assert slots == {items[0].id: 0, items[1].id: 1, items[2].id: 1}, "never below zero"
    project.refresh_from_db()
    assert slots == expected_slots(project)

    # The lease held under the old overlap may still be submitted: the item ends over its new overlap, never under.
    annotation_submit(assignment_id=leased.id, user=users["ann2"], client_id=uuid.uuid4(), payload={"response": "x"})
    assert Item.objects.get(id=items[0].id).open_slots == 0


@pytest.mark.django_db
def test_leases_ending_after_the_overlap_was_lowered_do_not_reopen_the_item(project, users, make_items):
    [item] = make_items(project, demo_rows(1))  # overlap 2
    first = assignment_next(project=project, user=users["ann1"])
    second = assignment_next(project=project, user=users["ann2"])
    project_update(project=project, by=users["admin"], overlap=1)
    assert Item.objects.get().open_slots == 0
    assignment_skip(assignment_id=first.id, user=users["ann1"], reason="unsure")
    assert Item.objects.get().open_slots == 0, "one live lease still fills the lowered overlap"
    Assignment.objects.filter(id=second.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    leases_reclaim(project=project)
    assert Item.objects.get().open_slots == 1 == expected_slots(project)[item.id]


@pytest.mark.django_db
def test_an_unchanged_overlap_writes_nothing(project, users, make_items):
    make_items(project, demo_rows(1))
    project_update(project=project, by=users["admin"], overlap=2)
    assert not AuditEvent.objects.filter(action=Action.PROJECT_UPDATE).exists()


CLIENTS = 8
ITEMS = 40


def work(project, user, failures, barrier, stop):
    rng = random.Random(user.id)
    try:
        barrier.wait()
        while not stop.is_set():
            assignment = assignment_next(project=project, user=user)
            if assignment is None:
                if rng.random() < 0.5:
                    continue
                break
            if rng.random() < 0.3:
                continue  # keep the lease live for a while: the recount must count it
            annotation_submit(
                assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload={"response": "ok"}
            )
    except Exception as exc:  # noqa: BLE001 - reported by the test
        failures.append(repr(exc))
    finally:
        connection.close()


def change_overlap(project, admin, failures, barrier, stop):
    try:
        barrier.wait()
        for overlap in [3, 1, 4, 2, 5, 3]:
            project_update(project=project, by=admin, overlap=overlap)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        failures.append(repr(exc))
    finally:
        stop.set()
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_overlap_changes_while_annotators_work_never_over_assign(django_user_model, make_items):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer: the race needs PostgreSQL's row locks")
    admin = django_user_model.objects.create_user("owner")
    project = project_create(creator=admin, name="Race", slug="race", overlap=2)
    make_items(project, demo_rows(ITEMS))
    annotators = [django_user_model.objects.create_user(f"worker{i}") for i in range(CLIENTS)]
    Membership.objects.bulk_create(Membership(project=project, user=user) for user in annotators)

    failures: list[str] = []
    barrier, stop = threading.Barrier(CLIENTS + 1), threading.Event()
    threads = [threading.Thread(target=work, args=(project, u, failures, barrier, stop)) for u in annotators]
    threads.append(threading.Thread(target=change_overlap, args=(project, admin, failures, barrier, stop)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    project.refresh_from_db()
    assert project.overlap == 3
    live = Counter(Assignment.objects.filter(status="active", repeat_of__isnull=True).values_list("item_id", flat=True))
    completed = Counter(Annotation.objects.filter(is_repeat=False).values_list("item_id", flat=True))
    for item in Item.objects.filter(project=project):
        assert item.completed_count == completed[item.id]
        # Work leased under a larger overlap may finish above the final one, but never beyond the largest (5).
        assert completed[item.id] + live[item.id] <= 5
        assert item.open_slots == max(0, project.overlap - completed[item.id] - live[item.id]), item.id
    pairs = Counter(Assignment.objects.values_list("item_id", "annotator_id"))
    assert max(pairs.values()) == 1
