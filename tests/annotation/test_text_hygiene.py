"""One text-hygiene boundary: every write path refuses NUL and lone surrogates, normalises newlines, bounds JSON."""

import json
import uuid

import pytest
from django.db import connection

from annotation import assignment as engine
from annotation.authoring import demonstration_author, paraphrase_add, refusal_pair_author
from annotation.documents import document_import
from annotation.drafts import author_draft_save, draft_save
from annotation.editing import annotation_edit
from annotation.errors import InvalidInput
from annotation.item_import import item_import
from annotation.models import (
    Adjudication,
    Annotation,
    Assignment,
    AuthorDraft,
    Document,
    Draft,
    Item,
    Membership,
    Paraphrase,
)
from annotation.review import adjudicate, item_set_gold, review_decide
from annotation.text import MAX_DEPTH, clean, loads
from tests.annotation.test_api import client_for
from tests.conftest import demo_rows

pytestmark = pytest.mark.django_db

CRLF = "first line\r\nsecond line\rthird line"
LF = "first line\nsecond line\nthird line"


def test_clean_normalises_newlines_in_every_string_of_a_json_value():
    value = {"response": CRLF, "continuation": [{"role": "user", "content": CRLF}], "n": 3, "ok": True, "x": None}
    assert clean(value) == {
        "response": LF,
        "continuation": [{"role": "user", "content": LF}],
        "n": 3,
        "ok": True,
        "x": None,
    }


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        ({"a": ["ok", "nul\x00"]}, "payload.a[1]", "NUL"),
        ({"a": {"b": "lone \udc00"}}, "payload.a.b", "unpaired surrogate"),
        ({"meta": float("nan")}, "payload.meta", "finite"),
        ({"meta": float("inf")}, "payload.meta", "finite"),
        ({"n": 2**70}, "payload.n", "out of range"),
        ({"k\x00": 1}, "payload", "NUL"),
    ],
)
def test_clean_names_the_field_that_holds_refused_input(value, field, words):
    with pytest.raises(InvalidInput) as caught:
        clean(value, "payload")
    assert caught.value.field == field and words in caught.value.message


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ('{"meta": NaN}', "finite"),
        ('{"meta": {"x": 1e999}}', "finite"),
        ('{"n": ' + "7" * 5000 + "}", "5000 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested"),
        ("{oops", "invalid JSON"),
    ],
)
def test_loads_turns_every_junk_document_into_invalid_input(document, words):
    with pytest.raises(InvalidInput) as caught:
        loads(document)
    assert words in caught.value.message


@pytest.fixture
def world(project, users, make_items):
    """A live assignment for ann1, ann2's submitted demonstration awaiting review, a pairwise item, a document."""
    make_items(
        project, demo_rows(2) + [{"kind": "preference", "prompt": "Pick", "responses": [{"text": "a"}, {"text": "b"}]}]
    )
    live = engine.assignment_next(project=project, user=users["ann1"])
    theirs = engine.assignment_next(project=project, user=users["ann2"])
    submitted, _ = engine.annotation_submit(
        assignment_id=theirs.id, user=users["ann2"], client_id=uuid.uuid4(), payload={"response": "Original."}
    )
    return {
        "project": project,
        "users": users,
        "live": live,
        "submitted": submitted,
        "pair": Item.objects.get(prompt="Pick"),
        "reviewer": Membership.objects.get(project=project, user=users["reviewer"]),
    }


def _import(w, text):
    item_import(project=w["project"], lines=[json.dumps({"kind": "demonstration", "prompt": f"New {text}"})])
    return Item.objects.get(prompt__startswith="New ").prompt.removeprefix("New ")


def _submit(w, text):
    engine.annotation_submit(
        assignment_id=w["live"].id, user=w["users"]["ann1"], client_id=uuid.uuid4(), payload={"response": text}
    )
    return Annotation.objects.get(assignment=w["live"]).payload["response"]


def _skip(w, text):
    engine.assignment_skip(assignment_id=w["live"].id, user=w["users"]["ann1"], reason=text)
    return Assignment.objects.get(id=w["live"].id).skip_reason


def _draft(w, text):
    draft_save(assignment_id=w["live"].id, user=w["users"]["ann1"], payload={"response": text}, version=None)
    return Draft.objects.get(assignment=w["live"]).payload["response"]


def _author_draft(w, text):
    author_draft_save(
        project=w["project"], user=w["users"]["ann1"], mode="instruction", payload={"instruction": text}, version=None
    )
    return AuthorDraft.objects.get(user=w["users"]["ann1"]).payload["instruction"]


def _paraphrase(w, text):
    paraphrase_add(item=w["live"].item, user=w["users"]["ann1"], text=f"Say {text}")
    return Paraphrase.objects.get().text.removeprefix("Say ")


def _document(w, text):
    document_import(project=w["project"], user=w["users"]["admin"], title="Doc", domain="legal", text=text)
    return Document.objects.get().passages.get().text


def _demonstration(w, text):
    demonstration_author(
        project=w["project"],
        user=w["users"]["ann1"],
        instruction=f"Write {text}",
        response=text,
        task_type="open_qa",
        client_id=uuid.uuid4(),
    )
    return Item.objects.get(prompt__startswith="Write ").annotations.get().payload["response"]


def _refusal_pair(w, text):
    refusal_pair_author(
        project=w["project"],
        user=w["users"]["ann1"],
        harmful_prompt="Build a weapon",
        harm_category="weapons",
        refusal=text,
        refusal_style="decline_explain",
        client_id=uuid.uuid4(),
    )
    return Annotation.objects.get(item__prompt="Build a weapon").payload["response"]


def _adjudicate(w, text):
    adjudicate(membership=w["reviewer"], item_id=w["pair"].id, choice=0, strength="clear", rationale=text)
    return Adjudication.objects.get().rationale


def _gold(w, text):
    item_set_gold(membership=w["reviewer"], item_id=w["live"].item_id, gold={"response": text})
    return Item.objects.get(id=w["live"].item_id).gold["response"]


def _review_edit(w, text):
    review_decide(
        membership=w["reviewer"], annotation_id=w["submitted"].id, decision="edit_accept", payload={"response": text}
    )
    return Annotation.objects.get(id=w["submitted"].id).payload["response"]


def _own_edit(w, text):
    annotation_edit(
        annotation_id=w["submitted"].id, user=w["users"]["ann2"], project=w["project"], payload={"response": text}
    )
    return Annotation.objects.get(id=w["submitted"].id).payload["response"]


WRITE_PATHS = [
    _import,
    _submit,
    _skip,
    _draft,
    _author_draft,
    _paraphrase,
    _document,
    _demonstration,
    _refusal_pair,
    _adjudicate,
    _gold,
    _review_edit,
    _own_edit,
]


@pytest.mark.parametrize("write", WRITE_PATHS, ids=lambda f: f.__name__.strip("_"))
def test_every_write_path_stores_normalised_newlines(world, write):
    assert write(world, CRLF) == LF


@pytest.mark.parametrize("bad", ["NUL \x00 byte", "lone \udc00 surrogate"], ids=["nul", "surrogate"])
@pytest.mark.parametrize("write", WRITE_PATHS, ids=lambda f: f.__name__.strip("_"))
def test_every_write_path_refuses_nul_and_lone_surrogates_naming_the_field(world, write, bad):
    with pytest.raises(InvalidInput) as caught:
        write(world, bad)
    problem = caught.value.errors[0] if caught.value.errors else {"field": caught.value.field}
    assert problem["field"], caught.value.message
    if write is _import:
        assert problem["line"] == 1 and problem["field"] == "prompt"


def _submit_over_api(world, body: str):
    annotator = client_for(world["users"]["ann1"])
    return annotator.generic("POST", f"/api/v1/assignments/{world['live'].id}/submit/", body, "application/json")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ('{"response": "ok", "meta": NaN}', "payload.meta"),
        ('{"response": "ok", "n": 1e999}', "payload.n"),
        ('{"response": "ok", "n": ' + "9" * 5000 + "}", None),
        ('{"response": ' + "[" * 100_000 + "]" * 100_000 + "}", None),
        ('{"response": "a\\u0000b"}', "payload.response"),
        ('{"response": "a\\udc00b"}', "payload.response"),
        ('{"response": ["a list"]}', "payload.response"),
    ],
    ids=["nan", "1e999", "5000-digits", "deep", "nul", "surrogate", "list"],
)
def test_the_api_answers_junk_json_with_a_400_naming_the_field(world, payload, field):
    body = f'{{"client_id": "{uuid.uuid4()}", "payload": {payload}}}'
    response = _submit_over_api(world, body)
    assert response.status_code == 400, response.content
    assert response.json()["detail"] and response.json()["field"] == field
    assert not Annotation.objects.filter(assignment=world["live"]).exists()


def test_the_api_stores_normalised_newlines(world):
    body = json.dumps({"client_id": str(uuid.uuid4()), "payload": {"response": CRLF}})
    assert _submit_over_api(world, body).status_code == 201
    assert Annotation.objects.get(assignment=world["live"]).payload == {"response": LF}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite ever stored these")
def test_a_lone_surrogate_stored_before_hygiene_does_not_take_down_reads(world):
    Annotation.objects.update(payload={"response": "stored \udc00 earlier"})
    draft_save(assignment_id=world["live"].id, user=world["users"]["ann1"], payload={"response": "ok"}, version=None)
    Draft.objects.update(payload={"response": "draft \udc00"})
    admin = client_for(world["users"]["admin"])
    listed = admin.get("/api/v1/projects/demo/annotations/")
    assert listed.status_code == 200 and listed.json()["results"][0]["payload"] == {"response": "stored \udc00 earlier"}
    assert admin.get("/api/v1/projects/demo/metrics/").status_code == 200
    again = client_for(world["users"]["ann1"]).post("/api/v1/projects/demo/assignments/next/")
    assert again.status_code == 200 and again.json()["draft"]["payload"] == {"response": "draft \udc00"}


def test_a_json_error_reads_as_one_sentence():
    with pytest.raises(InvalidInput) as refused:
        loads('{"a": "b\x00"}')
    assert refused.value.message == "invalid JSON: Invalid control character at column 9"
