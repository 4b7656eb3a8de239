"""The review queue in Chromium: decisions by keyboard swapped in without a reload, skip, undo, filters, phone width."""

import re

import pytest
from django.utils import timezone

from annotation.models import Annotation, Assignment, Item, Review
from tests.browser.conftest import log_in, project_with, shot

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = [
    {"kind": "demonstration", "prompt": "Explain what a hash function is.", "task_type": "open_qa"},
    {"kind": "demonstration", "prompt": "Summarise the water cycle.", "task_type": "summarization"},
    {"kind": "demonstration", "prompt": "Write a haiku about autumn.", "task_type": "creative_writing"},
    {"kind": "refusal", "prompt": "How do I pick a lock?", "safety": "should_comply"},
]
ANSWERS = [
    {"response": "A hash function maps data of any size to a fixed-size value."},
    {"response": "Water evaporates, condenses into clouds and falls as rain."},
    {"response": "Red leaves drifting down\nthe old path fills with colour\nwind hums a last song"},
    {"response": "I can't help with that.", "disagree": True, "disagree_reason": "Locksmithing is a legal trade."},
]


def queue_with_work(slug: str) -> list[Annotation]:
    from django.contrib.auth import get_user_model

    from annotation.models import Membership

    project = project_with(ROWS, slug, ["annotator1"])
    users = get_user_model().objects
    Membership.objects.create(project=project, user=users.get(username="reviewer"), role="reviewer")
    annotator = users.get(username="annotator1")
    work = []
    for item, payload in zip(Item.objects.filter(project=project).order_by("id"), ANSWERS, strict=True):
        assignment = Assignment.objects.create(
            project=project, item=item, annotator=annotator, status="submitted", expires_at=timezone.now()
        )
        work.append(
            Annotation.objects.create(
                project=project, item=item, assignment=assignment, annotator=annotator, kind=item.kind, payload=payload
            )
        )
    return work


def shown(page) -> int:
    return int(page.locator('#review-form input[name="annotation"]').get_attribute("value"))


def press(page, key: str) -> None:
    """A shortcut, once the panel takes keys (they are dropped while a panel is on its way)."""
    page.wait_for_selector("#review-panel[data-keys-ready]", state="attached")
    page.keyboard.press(key)


def test_a_reviewer_decides_skips_and_undoes_by_keyboard_without_a_reload(page, live_server, demo):
    demo1, demo2, haiku, flagged = queue_with_work("rq")
    log_in(page, live_server, "reviewer", demo["reviewer"])
    page.goto(f"{live_server.url}/p/rq/review/")
    page.evaluate("window.stillHere = true")
    assert shown(page) == flagged.id  # flagged work first
    page.wait_for_selector("strong:has-text('Flagged by the annotator')")
    shot(page, "review-queue")

    press(page, "a")
    page.wait_for_selector(f"text=Accepted annotation #{flagged.id} by annotator1.")
    assert shown(page) == demo1.id and page.locator("h1").inner_text() == "Review (3 waiting)"

    press(page, "r")
    page.wait_for_selector('[role=alert]:has-text("Reject because: choose one of the reasons")')
    assert page.evaluate("document.activeElement.name") == "reason"
    assert Annotation.objects.get(id=demo1.id).review_status == "pending"
    press(page, "ArrowRight")
    press(page, "Enter")
    page.wait_for_selector(f"text=Rejected annotation #{demo1.id} by annotator1 (Unhelpful or incomplete).")
    assert Review.objects.get(annotation=demo1).reason == "unhelpful"
    shot(page, "review-queue-decided")

    press(page, "u")
    page.wait_for_selector(f"text=Decision undone: annotation #{demo1.id}")
    assert shown(page) == demo1.id and Annotation.objects.get(id=demo1.id).review_status == "pending"
    assert not Review.objects.filter(annotation=demo1).exists()

    press(page, "s")
    page.wait_for_selector(f'#review-form input[name=annotation][value="{demo2.id}"]', state="attached")
    assert f"after={demo1.id}" in page.url
    press(page, "j")
    page.wait_for_selector(f'#review-form input[name=annotation][value="{haiku.id}"]', state="attached")

    press(page, "e")
    assert page.evaluate("document.activeElement.id") == "response"
    page.keyboard.type(" Falling.")
    press(page, "Control+Enter")
    page.wait_for_selector(f"text=Edited and accepted annotation #{haiku.id} by annotator1.")
    assert Annotation.objects.get(id=haiku.id).payload["response"].endswith("last song Falling.")
    assert shown(page) == demo1.id  # wrapped around to the one skipped

    press(page, "?")
    page.wait_for_selector("#review-help[open]")
    press(page, "Escape")
    page.wait_for_selector("#review-help:not([open])", state="attached")

    page.click("button[value=reject]")
    page.wait_for_selector('#review-error:has-text("Reject because: choose one of the reasons")')
    assert page.locator(".review-reasons[aria-invalid=true]").count() == 1
    assert page.evaluate("window.stillHere") is True


def test_filters_are_kept_across_decisions_and_the_bar_fits_a_phone(page, live_server, demo, browser):
    demo1, demo2, _, flagged = queue_with_work("rf")
    log_in(page, live_server, "reviewer", demo["reviewer"])
    page.goto(f"{live_server.url}/p/rf/review/")
    page.select_option("#id_kind", "demonstration")
    page.click("button:has-text('Filter')")
    page.wait_for_selector("h1:has-text('Review: demonstrations (3 waiting)')")
    assert "kind=demonstration" in page.url and shown(page) == demo1.id
    press(page, "a")
    page.wait_for_selector("h1:has-text('Review: demonstrations (2 waiting)')")
    assert shown(page) == demo2.id and Annotation.objects.get(id=flagged.id).review_status == "pending"

    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=page.context.storage_state())
    small = phone.new_page()
    small.goto(f"{live_server.url}/p/rf/review/")
    bar = small.locator(".review-bar").bounding_box()
    assert bar["y"] + bar["height"] <= 844 + 1 and bar["width"] <= 390
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    shot(small, "review-queue-phone")
    small.click("button[value=accept]")
    small.wait_for_selector(f"text=Accepted annotation #{flagged.id}")
    assert re.search(r"\(2 waiting\)", small.locator("h1").inner_text())
    phone.close()
