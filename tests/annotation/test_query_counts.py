"""Pin the number of queries on the hot paths so an N+1 cannot creep in."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import demo_rows

pytestmark = pytest.mark.django_db


def count_queries(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    bookkeeping = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "COMMIT")
    return response, [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(bookkeeping)]


def test_next_and_submit_stay_within_their_query_budget(project, make_items, annotator):
    make_items(project, demo_rows(50))
    response, next_queries = count_queries(lambda: annotator.post("/api/v1/projects/demo/assignments/next/"))
    assert response.status_code == 200
    # token+user, membership, overdue leases?, anything of mine to come back to?, pick taking its slot, insert
    assert len(next_queries) == 6, "\n".join(q[:150] for q in next_queries)
    body = {"client_id": str(uuid.uuid4()), "payload": {"response": "ok"}}
    url = f"/api/v1/assignments/{response.json()['id']}/submit/"
    response, submit_queries = count_queries(lambda: annotator.post(url, body, format="json"))
    assert response.status_code == 201
    # token+user, locked assignment, insert, assignment status, item count
    assert len(submit_queries) == 5, "\n".join(q[:150] for q in submit_queries)


def test_the_annotation_list_does_not_grow_with_its_page(project, make_items, annotator, users):
    from annotation.assignment import annotation_submit, assignment_next

    make_items(project, demo_rows(30))
    for _ in range(30):
        assignment = assignment_next(project=project, user=users["ann1"])
        annotation_submit(
            assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "x"}
        )
    _, small = count_queries(lambda: annotator.get("/api/v1/projects/demo/annotations/?page_size=2"))
    _, large = count_queries(lambda: annotator.get("/api/v1/projects/demo/annotations/?page_size=30"))
    assert len(small) == len(large)


def test_drafts_that_cannot_come_back_cost_next_nothing(project, make_items, annotator, users):
    from annotation.models import Assignment, Draft, Item

    make_items(project, demo_rows(20))
    for _ in range(5):  # five lapsed drafts whose items others have filled since
        response = annotator.post("/api/v1/projects/demo/assignments/next/")
        assignment = Assignment.objects.get(id=response.json()["id"])
        Draft.objects.create(assignment=assignment, payload={"response": "too late"})
        assignment.status = "expired"
        assignment.save()
        Item.objects.filter(id=assignment.item_id).update(open_slots=0)
    response, next_queries = count_queries(lambda: annotator.post("/api/v1/projects/demo/assignments/next/"))
    assert response.status_code == 200
    assert len(next_queries) == 6, "\n".join(q[:150] for q in next_queries)
