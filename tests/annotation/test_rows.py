"""annotation.rows: the hot path's hand-written SQL loads the instances a queryset would, on either database."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.assignment import assignment_next
from annotation.models import Assignment, Item, Project
from annotation.rows import Columns, first, select

pytestmark = pytest.mark.django_db

PARTS = (Columns(Assignment, "a"), Columns(Item, "i", without=("minhash",)), Columns(Project, "p"))
SQL = (
    f"SELECT {select(*PARTS)} FROM annotation_assignment a JOIN annotation_item i ON i.id = a.item_id"
    " JOIN annotation_project p ON p.id = a.project_id WHERE a.id = %s"
)


def values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.fixture
def assignment(project, make_items, users):
    row = {"kind": "preference", "prompt": "Pick", "responses": [{"text": "A"}, {"text": "B"}], "meta": {"src": [1]}}
    make_items(project, [row])
    return assignment_next(project=project, user=users["ann1"])


def test_every_value_comes_back_as_the_orm_loads_it(assignment):
    found = first(SQL, [assignment.id], *PARTS)
    for made, model in zip(found, (Assignment, Item, Project), strict=True):
        assert type(made) is model and not made._state.adding
        assert values(made) == values(model.objects.get(id=made.id))
    made_assignment, made_item, _ = found
    assert made_assignment.expires_at.tzinfo is not None  # a datetime, not SQLite's text
    assert [response["text"] for response in made_item.responses] == ["A", "B"] and made_item.meta == {"src": [1]}


def test_a_column_left_out_loads_on_first_use(assignment):
    _, item, _ = first(SQL, [assignment.id], *PARTS)
    with CaptureQueriesContext(connection) as loads:
        minhash = item.minhash
    assert len(loads) == 1
    assert minhash == Item.objects.get(id=item.id).minhash


def test_no_row_is_none(assignment):
    assert first(SQL, [assignment.id + 1000], *PARTS) is None
