"""The annotators' hot path (next and submit over the API) in round trips, on SQLite and on PostgreSQL alike:
the common case pays for no lookups it does not need, and the rarer cases that need one still get it."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Annotation, Assignment, Item
from tests.conftest import demo_rows

pytestmark = pytest.mark.django_db


def round_trips(call):
    """The response and every statement sent, transaction boundaries included (savepoints would show here)."""
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return response, [q["sql"] for q in captured.captured_queries]


def statements(sql: list[str]) -> list[str]:
    return [q for q in sql if q not in ("BEGIN", "COMMIT") and not q.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def submit(client, assignment_id, client_id, text="ok"):
    body = {"client_id": str(client_id), "payload": {"response": text}}
    return client.post(f"/api/v1/assignments/{assignment_id}/submit/", body, format="json")


def test_it_hands_out_a_new_item_in_one_transaction(project, make_items, annotator):
    make_items(project, demo_rows(20))
    response, sql = round_trips(lambda: annotator.post("/api/v1/projects/demo/assignments/next/"))
    assert response.status_code == 200
    # the test's own transaction turns the claim's into a savepoint: one, and nothing nested in it
    assert sum(q.startswith("SAVEPOINT") for q in sql) == 1, "\n".join(sql)
    # token+user, membership, overdue leases?, anything of mine to come back to?, pick taking its slot, insert
    assert len(statements(sql)) == 6, "\n".join(q[:150] for q in sql)


def test_it_gives_back_the_live_assignment_after_a_cheap_look(project, make_items, annotator):
    make_items(project, demo_rows(20))
    first = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    response, sql = round_trips(lambda: annotator.post("/api/v1/projects/demo/assignments/next/"))
    assert response.json()["id"] == first["id"]
    # token+user, membership, overdue leases?, anything of mine to come back to? (yes), the live one, locked
    assert len(statements(sql)) == 5, "\n".join(q[:150] for q in sql)


def test_a_first_submission_looks_up_no_earlier_one(project, make_items, annotator):
    make_items(project, demo_rows(20))
    assignment = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    response, sql = round_trips(lambda: submit(annotator, assignment["id"], uuid.uuid4()))
    assert response.status_code == 201
    assert not any("annotation_annotation" in q and q.startswith("SELECT") for q in sql), "\n".join(sql)
    # token+user, locked assignment, insert, assignment status, item count
    assert len(statements(sql)) == 5, "\n".join(q[:150] for q in sql)


def test_a_retry_returns_the_first_result_in_three_statements(project, make_items, annotator):
    make_items(project, demo_rows(20))
    assignment = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    client_id = uuid.uuid4()
    first = submit(annotator, assignment["id"], client_id)
    response, sql = round_trips(lambda: submit(annotator, assignment["id"], client_id, text="changed"))
    assert response.status_code == 200
    assert response.json() == first.json()
    # token+user, locked assignment (submitted), the earlier annotation by client_id
    assert len(statements(sql)) == 3, "\n".join(q[:150] for q in sql)


def test_a_client_id_of_another_submission_is_a_conflict_that_writes_nothing(project, make_items, annotator):
    make_items(project, demo_rows(20))
    done = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    client_id = uuid.uuid4()
    assert submit(annotator, done["id"], client_id).status_code == 201
    live = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    item = Item.objects.get(id=live["item"]["id"])

    response = submit(annotator, live["id"], client_id)

    assert response.status_code == 409
    assert response.json()["field"] == "client_id"
    assert Assignment.objects.get(id=live["id"]).status == Assignment.Status.ACTIVE
    assert not Annotation.objects.filter(assignment_id=live["id"]).exists()
    after = Item.objects.get(id=item.id)
    assert (after.completed_count, after.open_slots) == (item.completed_count, item.open_slots)
    # the lease is still the annotator's to submit with a fresh client_id
    assert submit(annotator, live["id"], uuid.uuid4()).status_code == 201


def test_a_client_id_of_another_submission_is_a_conflict_on_a_skipped_assignment_too(project, make_items, annotator):
    make_items(project, demo_rows(20))
    done = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    client_id = uuid.uuid4()
    submit(annotator, done["id"], client_id)
    skipped = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    annotator.post(f"/api/v1/assignments/{skipped['id']}/skip/", {"reason": "unclear"}, format="json")

    reused = submit(annotator, skipped["id"], client_id)
    fresh = submit(annotator, skipped["id"], uuid.uuid4())

    assert (reused.status_code, reused.json()["field"]) == (409, "client_id")
    assert fresh.status_code == 409 and "skipped" in fresh.json()["detail"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_on_postgresql_the_hot_path_is_planned_once_per_connection(project, make_items, annotator):
    make_items(project, demo_rows(20))
    for _ in range(12):  # a statement is prepared from its fifth run; the model-review share splits the pick's runs
        assignment = annotator.post("/api/v1/projects/demo/assignments/next/").json()
        assert submit(annotator, assignment["id"], uuid.uuid4()).status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = "\n".join(row[0] for row in cursor.fetchall())
    assert "open_slots = open_slots - 1" in prepared  # the pick
    assert "FROM annotation_membership m" in prepared  # the membership
