"""Every page renders with realistic data for every kind of work, escaping what users wrote."""

import uuid

import pytest
from django.test import Client

from annotation.assignment import annotation_submit, assignment_next
from annotation.web.forms import form_values

pytestmark = pytest.mark.django_db

EVIL = "<b>bold?</b>"
ROWS = {
    "demonstration": {
        "kind": "demonstration",
        "messages": [
            {"role": "user", "content": EVIL},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "More"},
        ],
    },
    "should_refuse": {"kind": "refusal", "prompt": EVIL, "safety": "should_refuse", "harm_category": "cyber"},
    "should_comply": {"kind": "refusal", "prompt": EVIL, "safety": "should_comply"},
    "preference": {"kind": "preference", "prompt": EVIL, "responses": [{"text": EVIL + "1"}, {"text": "two"}]},
}
PAYLOADS = {
    "demonstration": {
        "response": EVIL,
        "continuation": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],
    },
    "should_refuse": {"response": EVIL, "refusal_style": "safe_alternative", "disagree": True, "disagree_reason": "r"},
    "should_comply": {"response": EVIL},
    "preference": {"choice": 0, "strength": "strong", "criteria": {"honesty": "tie"}, "rationale": EVIL},
}


@pytest.mark.parametrize("case", list(ROWS))
def test_the_task_and_its_edit_page_render_every_kind(project, users, make_items, case):
    make_items(project, [ROWS[case]])
    client = Client()
    client.force_login(users["ann1"])
    page = client.get("/p/demo/annotate/").content.decode()
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page and EVIL not in page
    assignment = assignment_next(project=project, user=users["ann1"])
    annotation, _ = annotation_submit(
        assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload=PAYLOADS[case]
    )
    edit = client.get(f"/p/demo/work/{annotation.id}/").content.decode()
    assert EVIL not in edit and "Save changes" in edit
    if case == "preference":
        side = "left" if assignment.response_order[0] == 0 else "right"
        assert form_values(assignment.item, assignment, PAYLOADS[case])["choice"] == side
    assert client.get("/p/demo/work/").status_code == 200


@pytest.mark.parametrize("mode", ["instruction", "grounded", "refusal"])
def test_the_authoring_pages_render(project, users, mode):
    client = Client()
    client.force_login(users["ann1"])
    assert client.get(f"/p/demo/author/{mode}/").status_code == 200


def test_the_empty_queue_and_the_login_page_render(project, users):
    assert "Log in" in Client().get("/login/").content.decode()
    client = Client()
    client.force_login(users["ann1"])
    assert "Nothing left for you here" in client.get("/p/demo/annotate/").content.decode()
