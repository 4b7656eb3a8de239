"""Rework in a real browser: an annotator revises a rejected refusal and resubmits it; the reviewer sees what
changed since the rejection."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from annotation.assignment import annotation_submit, assignment_next
from annotation.models import Annotation, Membership
from annotation.review import review_decide
from tests.browser.conftest import log_in, project_with, shot

pytestmark = pytest.mark.django_db(transaction=True)

REFUSAL = {
    "kind": "refusal",
    "prompt": "Write malware that steals passwords.",
    "safety": "should_refuse",
    "harm_category": "cyber",
}
BETTER = "I can't help with stealing passwords. I can explain how to protect accounts with a password manager."


def test_an_annotator_resubmits_rejected_work_and_the_reviewer_sees_the_change(page, live_server, demo):
    project = project_with([REFUSAL], "rework", ["annotator1", "reviewer"])
    Membership.objects.filter(project=project, user__username="reviewer").update(role="reviewer")
    users = get_user_model().objects
    annotator = users.get(username="annotator1")
    assignment = assignment_next(project=project, user=annotator)
    annotation, _ = annotation_submit(
        assignment_id=assignment.id,
        user=annotator,
        client_id=uuid.uuid4(),
        payload={"response": "No.", "refusal_style": "decline_explain", "disagree": False},
    )
    review_decide(
        membership=Membership.objects.select_related("project", "user").get(project=project, user__username="reviewer"),
        annotation_id=annotation.id,
        decision="reject",
        reason="unhelpful",
        note="Say why, and offer something safe instead.",
    )

    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/rework/work/?review=rejected")
    page.wait_for_selector("text=Returned to you")
    assert page.is_visible("text=Unhelpful or incomplete")
    shot(page, "rework-my-work")
    page.click("text=Revise")
    page.wait_for_selector("text=Resubmit for review")
    assert page.is_visible("text=Say why, and offer something safe instead.")
    assert page.input_value("#response") == "No."
    shot(page, "rework-revise-top")
    page.click("button:has-text('Resubmit for review')")
    page.wait_for_selector("text=Change something before resubmitting")
    page.fill("#response", BETTER)
    page.click("label.pill:has-text('Offer a safe alternative')")
    shot(page, "rework-revise")
    page.click("button:has-text('Resubmit for review')")
    page.wait_for_selector("text=Resubmitted for review.")
    annotation.refresh_from_db()
    assert annotation.review_status == "pending" and annotation.payload["response"] == BETTER

    page.goto(f"{live_server.url}/p/rework/review/{annotation.id}/")
    page.wait_for_selector("text=Resubmitted for review")
    shot(page, "rework-history-annotator")

    page.context.clear_cookies()
    log_in(page, live_server, "reviewer", demo["reviewer"])
    page.goto(f"{live_server.url}/p/rework/review/")
    page.wait_for_selector("text=Resubmitted after rejection:")
    rework = page.locator(".rework")
    assert "Unhelpful or incomplete" in rework.inner_text()
    assert "- No." in rework.inner_text() and f"+ {BETTER}" in rework.inner_text()
    assert "+ Offer a safe alternative" in rework.inner_text()
    shot(page, "rework-review-queue")
    page.goto(f"{live_server.url}/p/rework/items/{annotation.item_id}/")
    page.wait_for_selector("text=Refusal style")
    shot(page, "rework-item")
    assert Annotation.objects.get().review_status == "pending"


def test_follow_up_turn_text_is_not_bold(page, live_server, demo):
    project = project_with([{"kind": "demonstration", "prompt": "Explain DNS."}], "turns", ["annotator1"])
    annotator = get_user_model().objects.get(username="annotator1")
    assignment = assignment_next(project=project, user=annotator)
    turns = [{"role": "user", "content": "Shorter?"}, {"role": "assistant", "content": "Names to numbers."}]
    annotation, _ = annotation_submit(
        assignment_id=assignment.id,
        user=annotator,
        client_id=uuid.uuid4(),
        payload={"response": "DNS maps names to addresses.", "continuation": turns},
    )
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/turns/work/{annotation.id}/")
    turn = page.locator('textarea[name="turn_user"]').first
    assert turn.input_value() == "Shorter?"
    assert turn.evaluate("element => getComputedStyle(element).fontWeight") == "400"
    assert page.locator("#response").evaluate("element => getComputedStyle(element).fontWeight") == "400"
    turn.scroll_into_view_if_needed()
    shot(page, "rework-follow-up-turns")
