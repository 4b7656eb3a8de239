"""The project's model_review_share steers how much of the normal queue comes from open model_review items."""

import random
import threading
import uuid
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.models import Annotation, Assignment, Membership
from annotation.projects import project_create
from tests.annotation.test_query_counts import count_queries
from tests.conftest import demo_rows

pytestmark = pytest.mark.django_db
ANSWERS = {"demonstration": {"response": "An answer."}, "model_review": {"choice": 0, "strength": "clear"}}


def review_rows(n):
    return [
        {"kind": "model_review", "prompt": f"Compare number {i}", "responses": [{"text": "one"}, {"text": "two"}]}
        for i in range(n)
    ]


@pytest.fixture
def mixed(project, make_items):
    """Ten demonstrations and ten model_review items, imported in that order."""
    make_items(project, demo_rows(10) + review_rows(10))
    return project


def received(project, user, count=None):
    """The items `user` is given, each done at once, until none is left or `count` were given."""
    items = []
    while (count is None or len(items) < count) and (assignment := assignment_next(project=project, user=user)):
        items.append(assignment.item)
        payload = ANSWERS[assignment.item.kind]
        annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)
    return items


def kinds_received(project, user, count=None):
    return [item.kind for item in received(project, user, count)]


def with_share(project, share):
    project.model_review_share = share
    project.save()
    random.seed(7)
    return project


def test_share_zero_leaves_model_review_until_everything_else_is_done(mixed, users):
    kinds = kinds_received(with_share(mixed, 0), users["ann1"])
    assert kinds == ["demonstration"] * 10 + ["model_review"] * 10


def test_share_one_puts_model_review_first(mixed, users):
    kinds = kinds_received(with_share(mixed, 1), users["ann1"])
    assert kinds == ["model_review"] * 10 + ["demonstration"] * 10


def test_a_share_of_one_half_draws_about_half_from_model_review(project, users, make_items):
    make_items(project, demo_rows(100) + review_rows(100))
    kinds = kinds_received(with_share(project, 0.5), users["ann1"], count=100)
    assert 35 <= kinds.count("model_review") <= 65


def test_model_review_items_the_annotator_has_seen_do_not_count(mixed, users):
    kinds_received(with_share(mixed, 0), users["ann1"])
    with_share(mixed, 1)
    assert assignment_next(project=mixed, user=users["ann1"]) is None
    assert assignment_next(project=mixed, user=users["ann2"]).item.kind == "model_review"


def test_coverage_priority_still_applies_to_the_other_items(project, users, make_items):
    project.prioritise_coverage = True
    project.task_type_mix = {"code": 1.0}
    chat = [{"kind": "demonstration", "prompt": f"Chat {i}", "task_type": "chat"} for i in range(3)]
    make_items(project, [*chat, {"kind": "demonstration", "prompt": "Code", "task_type": "code"}, *review_rows(1)])
    first, second = received(with_share(project, 1), users["ann1"], count=2)
    assert (first.kind, second.task_type) == ("model_review", "code")
    assert assignment_next(project=with_share(project, 0), user=users["ann2"]).item.task_type == "code"


def test_the_pick_costs_one_query_whichever_side_comes_first(project, make_items, annotator):
    make_items(project, demo_rows(5))
    for share in (0, 1):
        with_share(project, share)
        response, queries = count_queries(lambda: annotator.post("/api/v1/projects/demo/assignments/next/"))
        assert response.status_code == 200, response.content
        assert len(queries) == 6, "\n".join(q[:150] for q in queries)
        annotator.post(f"/api/v1/assignments/{response.json()['id']}/skip/", {"reason": "next"}, format="json")


def test_falling_back_to_model_review_costs_one_more_query(project, make_items, annotator):
    make_items(project, review_rows(2))
    with_share(project, 0)
    response, queries = count_queries(lambda: annotator.post("/api/v1/projects/demo/assignments/next/"))
    assert response.status_code == 200 and response.json()["item"]["kind"] == "model_review"
    # token+user, membership, overdue leases?, live assignment or drafts, pick others, pick model_review (taking its
    # slot), insert
    assert len(queries) == 7, "\n".join(q[:150] for q in queries)


def test_nobody_is_told_there_is_nothing_to_do_while_anything_is_open(project, make_items, users):
    make_items(project, demo_rows(2))
    assert kinds_received(with_share(project, 1), users["ann1"]) == ["demonstration"] * 2
    make_items(project, review_rows(2))
    assert kinds_received(with_share(project, 0), users["ann2"]) == ["demonstration"] * 2 + ["model_review"] * 2


def test_the_project_api_takes_the_share_and_refuses_one_out_of_range(users):
    users["admin"].is_staff = True
    users["admin"].save()
    api = APIClient()
    api.force_authenticate(users["admin"])
    made = api.post("/api/v1/projects/", {"name": "Loop", "slug": "loop", "model_review_share": 0.4}, format="json")
    assert made.status_code == 201 and made.json()["model_review_share"] == 0.4
    bad = api.post("/api/v1/projects/", {"name": "Bad", "slug": "bad", "model_review_share": 1.5}, format="json")
    assert bad.status_code == 400
    assert [error["field"] for error in bad.json()["errors"]] == ["model_review_share"]


def annotate_until_done(project, user, failures, barrier):
    try:
        barrier.wait()
        while assignment := assignment_next(project=project, user=user):
            payload = ANSWERS[assignment.item.kind]
            annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)
    except Exception as exc:  # noqa: BLE001 - reported by the test below
        failures.append(repr(exc))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_racing_clients_fill_both_kinds_exactly_to_overlap(django_user_model, make_items):
    owner = django_user_model.objects.create_user("owner")
    project = project_create(creator=owner, name="Race", slug="race", overlap=3, model_review_share=0.5)
    make_items(project, demo_rows(20) + review_rows(20))
    annotators = [django_user_model.objects.create_user(f"racer{i}") for i in range(12)]
    Membership.objects.bulk_create(Membership(project=project, user=user) for user in annotators)
    barrier, failures = threading.Barrier(len(annotators)), []
    threads = [threading.Thread(target=annotate_until_done, args=(project, u, failures, barrier)) for u in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(Counter(Annotation.objects.values_list("item_id", flat=True)).values()) == [3] * 40
    assert max(Counter(Assignment.objects.values_list("item_id", "annotator_id")).values()) == 1
