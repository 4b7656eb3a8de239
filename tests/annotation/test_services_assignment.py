import uuid
from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from annotation.assignment import annotation_submit, assignment_next, assignment_skip, leases_reclaim
from annotation.errors import Conflict, Gone, InvalidInput
from annotation.models import Annotation, Assignment, Item, Membership
from annotation.selectors import NoLongerMember
from tests.conftest import demo_rows

pytestmark = pytest.mark.django_db

ANSWER = {"response": "A careful answer."}
CHOICE = {"choice": 0, "strength": "clear"}


def submit(assignment, payload=None, client_id=None):
    if payload is None:
        payload = CHOICE if assignment.item.kind == "preference" else ANSWER
    return annotation_submit(
        assignment_id=assignment.id, user=assignment.annotator, client_id=client_id or uuid.uuid4(), payload=payload
    )


def work_through(project, user):
    """Take and submit items until none is left; return the item ids in the order received."""
    seen = []
    while (assignment := assignment_next(project=project, user=user)) is not None:
        seen.append(assignment.item_id)
        submit(assignment)
    return seen


def test_it_never_gives_an_item_twice_to_one_annotator(project, users, make_items):
    make_items(project, demo_rows(5))
    seen = work_through(project, users["ann1"])
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 5


def test_it_stops_at_overlap_completed_annotations(project, users, make_items):
    make_items(project, demo_rows(4))  # overlap is 2
    for name in ["ann1", "ann2", "reviewer"]:
        work_through(project, users[name])
    assert Annotation.objects.filter(annotator=users["reviewer"]).count() == 0
    assert all(item.completed_count == 2 for item in Item.objects.all())


def test_it_returns_the_live_assignment_until_it_is_done(project, users, make_items):
    make_items(project, demo_rows(3))
    first = assignment_next(project=project, user=users["ann1"])
    again = assignment_next(project=project, user=users["ann1"])
    assert again.id == first.id


def test_it_gives_priority_to_items_nearest_completion(project, users, make_items):
    project.overlap = 3
    project.save()
    items = make_items(project, demo_rows(5))
    Item.objects.update(open_slots=3)
    started = assignment_next(project=project, user=users["ann1"])
    submit(started)
    assert started.item_id == items[0].id
    assert assignment_next(project=project, user=users["ann2"]).item_id == items[0].id
    assert assignment_next(project=project, user=users["reviewer"]).item_id == items[0].id


def test_a_live_lease_holds_a_slot(project, users, make_items):
    project.overlap = 1
    project.save()
    make_items(project, demo_rows(1))
    assert assignment_next(project=project, user=users["ann1"]) is not None
    assert assignment_next(project=project, user=users["ann2"]) is None


def test_an_expired_lease_returns_the_item_to_the_pool(project, users, make_items):
    project.overlap = 1
    project.save()
    make_items(project, demo_rows(1))
    lost = assignment_next(project=project, user=users["ann1"])
    Assignment.objects.filter(id=lost.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = assignment_next(project=project, user=users["ann2"])
    assert taken.item_id == lost.item_id
    lost.refresh_from_db()
    assert lost.status == "expired"
    assert assignment_next(project=project, user=users["ann1"]) is None
    submit(taken)
    with pytest.raises(Gone, match="expired"):
        submit(lost)


def test_an_expired_lease_can_still_submit_while_the_slot_is_free(project, users, make_items):
    make_items(project, demo_rows(1))
    late = assignment_next(project=project, user=users["ann1"])
    Assignment.objects.filter(id=late.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert leases_reclaim(project=project) == 1
    assert leases_reclaim(project=project) == 0
    annotation, created = submit(late)
    assert created
    item = Item.objects.get()
    assert (item.completed_count, item.open_slots) == (1, 1)


def test_skip_needs_a_reason_and_gives_the_item_to_someone_else(project, users, make_items):
    project.overlap = 1
    project.save()
    make_items(project, demo_rows(1))
    skipped = assignment_next(project=project, user=users["ann1"])
    with pytest.raises(InvalidInput):
        assignment_skip(assignment_id=skipped.id, user=users["ann1"], reason="  ")
    assignment_skip(assignment_id=skipped.id, user=users["ann1"], reason="Not my language")
    assert Assignment.objects.get(id=skipped.id).skip_reason == "Not my language"
    assert assignment_next(project=project, user=users["ann1"]) is None
    assert assignment_next(project=project, user=users["ann2"]).item_id == skipped.item_id
    with pytest.raises(Conflict):
        submit(skipped)


def test_submit_is_idempotent_by_client_id(project, users, make_items):
    make_items(project, demo_rows(2))
    assignment = assignment_next(project=project, user=users["ann1"])
    client_id = uuid.uuid4()
    first, created = submit(assignment, client_id=client_id)
    again, created_again = submit(assignment, client_id=client_id)
    assert created and not created_again and again.id == first.id
    assert Annotation.objects.count() == 1
    assert Item.objects.get(id=assignment.item_id).completed_count == 1
    with pytest.raises(Conflict, match="already submitted"):
        submit(assignment)
    other = assignment_next(project=project, user=users["ann1"])
    with pytest.raises(Conflict, match="client_id"):
        submit(other, client_id=client_id)


def test_submit_refuses_a_bad_payload_and_writes_nothing(project, users, make_items):
    make_items(project, demo_rows(1))
    assignment = assignment_next(project=project, user=users["ann1"])
    with pytest.raises(InvalidInput) as caught:
        submit(assignment, payload={"response": ""})
    assert caught.value.field == "payload.response"
    assert Annotation.objects.count() == 0
    assert Assignment.objects.get(id=assignment.id).status == "active"


def test_only_the_assignee_who_is_still_a_member_can_submit(project, users, make_items):
    make_items(project, demo_rows(1))
    assignment = assignment_next(project=project, user=users["ann1"])
    with pytest.raises(Http404):
        annotation_submit(assignment_id=assignment.id, user=users["ann2"], client_id=uuid.uuid4(), payload=ANSWER)
    Membership.objects.filter(user=users["ann1"]).delete()
    with pytest.raises(NoLongerMember, match="no longer a member"):
        submit(assignment)


def test_gold_items_are_mixed_in_at_the_project_rate(project, users, make_items):
    rows = demo_rows(3, kind="preference", responses=[{"text": "a"}, {"text": "b"}])
    rows[2]["gold"] = {"choice": 1}
    make_items(project, rows)
    gold = Item.objects.get(is_gold=True)
    project.gold_rate = 1.0
    project.save()
    assert assignment_next(project=project, user=users["ann1"]).item_id == gold.id
    project.gold_rate = 0.0
    project.save()
    received = work_through(project, users["ann2"])
    assert gold.id not in received and len(received) == 2


def test_gold_items_do_not_use_up_overlap(project, users, make_items):
    make_items(project, [{**demo_rows(1)[0], "gold": {"response": "Known answer"}}])
    project.gold_rate = 1.0
    project.save()
    for name in ["ann1", "ann2", "reviewer", "admin"]:
        assert len(work_through(project, users[name])) == 1
    assert Item.objects.get().completed_count == 4


def test_pairwise_items_record_the_shown_order(project, users, make_items):
    make_items(project, demo_rows(1, kind="preference", responses=[{"text": "a"}, {"text": "b"}, {"text": "c"}]))
    assignment = assignment_next(project=project, user=users["ann1"])
    assert sorted(assignment.response_order) == [0, 1, 2]


def test_time_on_task_must_be_plausible(project, users, make_items):
    make_items(project, demo_rows(1))
    assignment = assignment_next(project=project, user=users["ann1"])
    with pytest.raises(InvalidInput, match="time_spent_ms"):
        annotation_submit(
            assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload=ANSWER, time_spent_ms=-1
        )


def test_repeats_reshow_an_earlier_pair_with_the_sides_swapped(project, users, make_items):
    from annotation.assignment import REPEAT_AFTER
    from annotation.metrics.project import pairwise_metrics

    make_items(project, demo_rows(REPEAT_AFTER + 3, kind="preference", responses=[{"text": "a"}, {"text": "b"}]))
    for _ in range(REPEAT_AFTER + 1):
        submit(assignment_next(project=project, user=users["ann1"]), payload={"choice": 0, "strength": "clear"})
    project.repeat_rate = 0.5
    project.save()
    import random

    random.seed(3)
    repeat = None
    while repeat is None:
        candidate = assignment_next(project=project, user=users["ann1"])
        if candidate.repeat_of_id:
            repeat = candidate
        else:
            submit(candidate, payload={"choice": 0, "strength": "clear"})
    original = repeat.repeat_of
    assert repeat.item_id == original.item_id and repeat.response_order == original.response_order[::-1]
    completed = Item.objects.get(id=repeat.item_id).completed_count
    annotation, _ = submit(repeat, payload={"choice": 1, "strength": "slight"})
    assert annotation.is_repeat and Item.objects.get(id=repeat.item_id).completed_count == completed
    (row,) = pairwise_metrics(project)["annotators"]
    assert (row["self_consistency"], row["repeat_n"]) == (0.0, 1)
    assert pairwise_metrics(project)["judgments"] == Annotation.objects.filter(is_repeat=False).count()
