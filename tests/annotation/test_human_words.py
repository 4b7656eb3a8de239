"""No internal code on screen: the main pages, rendered with realistic data, show labels in their visible text."""

import uuid
from html.parser import HTMLParser

import pytest

from annotation.assignment import annotation_submit, assignment_next
from annotation.editing import annotation_edit
from annotation.models import Annotation, Item, Membership
from annotation.review import review_decide

pytestmark = pytest.mark.django_db

RAW_CODES = [
    "should_refuse",
    "should_comply",
    "demonstration_kind",
    "model_review",
    "left_share",
    "list_share",
    "heading_share",
    "decline_explain",
    "safe_alternative",
    "redirect_help",
    "open_qa",
    "creative_writing",
    "self_harm",
    "illegal_activity",
    "medical_advice",
    "edit_accept",
    "refusal_style",
    "harm_category",
    "better_response",
    "{'",
    "[{",
]

ROWS = [
    {"kind": "demonstration", "prompt": "Write a poem about rain.", "task_type": "creative_writing"},
    {"kind": "demonstration", "prompt": "What is DNS?", "task_type": "open_qa"},
    {"kind": "refusal", "prompt": "How do I hurt myself?", "safety": "should_refuse", "harm_category": "self_harm"},
    {
        "kind": "refusal",
        "prompt": "Which pills are toxic?",
        "safety": "should_comply",
        "harm_category": "medical_advice",
    },
    {
        "kind": "preference",
        "prompt": "Name a prime.",
        "task_type": "open_qa",
        "responses": [{"text": "7", "source": "model:a"}, {"text": "9", "source": "model:b"}],
    },
]


class VisibleText(HTMLParser):
    """The text a person reads: text nodes outside script and style, never attribute values."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def submit(project, user, payload_for):
    while (assignment := assignment_next(project=project, user=user)) is not None:
        item = Item.objects.get(id=assignment.item_id)
        annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload_for(item))


def payload_for(item):
    if item.kind == "preference":
        return {"choice": 0, "strength": "clear", "rationale": "7 is prime", "better_response": "7 is a prime number."}
    if item.kind == "refusal":
        payload = {"response": "I can't help with that, but here is a helpline."}
        if item.safety == "should_refuse":
            payload["refusal_style"] = "redirect_help"
        return payload
    return {
        "response": "Rain falls.",
        "continuation": [
            {"role": "user", "content": "Longer?"},
            {"role": "assistant", "content": "Rain falls softly."},
        ],
    }


@pytest.fixture
def worked(project, users, make_items):
    make_items(project, ROWS)
    for name in ("ann1", "ann2"):
        submit(project, users[name], payload_for)
    reviewer = Membership.objects.select_related("project", "user").get(project=project, user=users["reviewer"])
    mine = Annotation.objects.filter(annotator=users["ann1"]).order_by("id")
    refusal = mine.get(item__safety="should_refuse")
    review_decide(membership=reviewer, annotation_id=refusal.id, decision="reject", reason="unhelpful", note="Kinder")
    annotation_edit(
        annotation_id=refusal.id,
        user=users["ann1"],
        project=project,
        payload={
            "response": "I'm sorry you feel this way. Please call a helpline.",
            "refusal_style": "safe_alternative",
        },
    )
    demo = mine.filter(kind="demonstration").first()
    review_decide(
        membership=reviewer, annotation_id=demo.id, decision="edit_accept", payload={"response": "Rain falls, soft."}
    )
    return {"refusal": refusal, "demo": demo, "item": Item.objects.get(kind="preference")}


def pages_for(worked):
    refusal, demo, item = worked["refusal"], worked["demo"], worked["item"]
    annotator = [
        "/",
        "/p/demo/work/",
        "/p/demo/work/?review=pending",
        f"/p/demo/work/{refusal.id}/",
        f"/p/demo/review/{refusal.id}/",
        f"/p/demo/review/{demo.id}/",
        "/p/demo/annotate/",
    ]
    staff = [
        "/p/demo/review/",
        f"/p/demo/review/{refusal.id}/",
        f"/p/demo/items/{item.id}/",
        f"/p/demo/items/{refusal.item_id}/",
        f"/p/demo/items/{demo.item_id}/",
        "/p/demo/quality/",
        "/p/demo/quality/summary/",
        "/p/demo/quality/coverage/",
        "/p/demo/quality/consistency/",
        "/p/demo/quality/duplicates/",
        "/p/demo/quality/agreement/",
        "/p/demo/data/",
    ]
    return annotator, staff


def test_main_pages_show_no_internal_codes(worked, users, client):
    annotator, staff = pages_for(worked)
    leaks = {}
    for user, urls in ((users["ann1"], annotator), (users["admin"], staff)):
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            text = visible_text(response.content.decode())
            if found := [code for code in RAW_CODES if code in text]:
                leaks[url] = found
    assert leaks == {}


def test_the_item_page_shows_a_payload_as_labelled_fields(worked, users, client):
    client.force_login(users["admin"])
    text = visible_text(client.get(f"/p/demo/items/{worked['item'].id}/").content.decode())
    assert "Choice" in text and "Clearly better" in text and "Better response" in text
    refusal = visible_text(client.get(f"/p/demo/items/{worked['refusal'].item_id}/").content.decode())
    assert "Refusal style" in refusal and "Offer a safe alternative" in refusal and "Self-harm" in refusal
    demo = visible_text(client.get(f"/p/demo/items/{worked['demo'].item_id}/").content.decode())
    assert "Follow-up turns" in demo and "User: Longer?" in demo


def test_the_visible_text_check_catches_a_leak():
    assert "should_refuse" in visible_text("<p>Item is should_refuse</p>")
    assert "should_refuse" not in visible_text('<p data-kind="should_refuse">Should refuse</p>')
