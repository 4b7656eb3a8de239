"""The review page: a reviewer's edit changes only what the edit form shows, follow-up turns included."""

import uuid

import pytest

from annotation.assignment import annotation_submit, assignment_next
from annotation.models import Annotation
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

CONTINUATION = [{"role": "user", "content": "And in Python?"}, {"role": "assistant", "content": "Use hashlib."}]


def submit_as(project, user, payload):
    assignment = assignment_next(project=project, user=user)
    annotation, _ = annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)
    return annotation


def decide(client, token, data):
    return client.post("/p/demo/review/", data, HTTP_X_CSRFTOKEN=token)


def test_the_edit_form_shows_the_follow_up_turns_and_an_edit_keeps_them(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    annotation = submit_as(project, users["ann1"], {"response": "A hash maps data.", "continuation": CONTINUATION})
    token = login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/review/").content.decode()
    assert ">And in Python?</textarea>" in page and ">Use hashlib.</textarea>" in page
    edit = {"annotation": annotation.id, "decision": "edit_accept", "response": "A hash function maps\r\ndata."}
    edit |= {"turn_user": "And in Python?", "turn_assistant": "Use hashlib.sha256."}
    assert decide(browser_client, token, edit).status_code == 302
    annotation.refresh_from_db()
    assert annotation.payload == {
        "response": "A hash function maps\ndata.",
        "continuation": [CONTINUATION[0], {"role": "assistant", "content": "Use hashlib.sha256."}],
    }


def test_an_edit_keeps_every_field_the_form_does_not_send(project, users, make_items, browser_client):
    make_items(project, demo_rows(1, kind="refusal", safety="should_refuse", harm_category="cyber"))
    payload = {
        "response": "I can't help with that.",
        "refusal_style": "decline_explain",
        "harm_category": "privacy",
        "disagree": True,
        "disagree_reason": "This reads as harmless to me.",
    }
    annotation = submit_as(project, users["ann1"], payload)
    token = login(browser_client, users["reviewer"])
    edit = {"annotation": annotation.id, "decision": "edit_accept", "response": "I can't help with stealing that."}
    assert decide(browser_client, token, edit).status_code == 302
    annotation.refresh_from_db()
    assert annotation.payload == payload | {"response": "I can't help with stealing that."}


def test_editing_one_turn_leaves_the_response_exactly_as_written(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    written = "Keep me\n\n  with my spacing  "
    annotation = submit_as(project, users["ann1"], {"response": written, "continuation": CONTINUATION})
    token = login(browser_client, users["reviewer"])
    edit = {"annotation": annotation.id, "decision": "edit_accept", "response": written}
    edit |= {"turn_user": "And in Python?", "turn_assistant": "Use hashlib.sha256."}
    assert decide(browser_client, token, edit).status_code == 302
    annotation.refresh_from_db()
    assert annotation.payload["response"] == written
    assert annotation.payload["continuation"][1]["content"] == "Use hashlib.sha256."


def test_clearing_every_follow_up_turn_removes_them(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    annotation = submit_as(project, users["ann1"], {"response": "Answer", "continuation": CONTINUATION})
    token = login(browser_client, users["reviewer"])
    edit = {"annotation": annotation.id, "decision": "edit_accept", "response": "Answer"}
    edit |= {"turn_user": "", "turn_assistant": ""}
    assert decide(browser_client, token, edit).status_code == 302
    annotation.refresh_from_db()
    assert annotation.payload == {"response": "Answer"}


def test_a_decision_is_required_and_a_refused_edit_keeps_the_reviewers_text(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    annotation = submit_as(project, users["ann1"], {"response": "Answer"})
    token = login(browser_client, users["reviewer"])
    none = decide(browser_client, token, {"annotation": annotation.id, "note": "Looks fine"})
    assert none.status_code == 422 and "choose Accept, Reject or Save edit" in none.content.decode()
    assert ">Looks fine</textarea>" in none.content.decode()
    refused = decide(browser_client, token, {"annotation": annotation.id, "decision": "edit_accept", "response": ""})
    assert refused.status_code == 422 and 'id="review-edit" data-submit-with="edit_accept" open>' in (
        refused.content.decode()
    )
    assert Annotation.objects.get().review_status == "pending"
