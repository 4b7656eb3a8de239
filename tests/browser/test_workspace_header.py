"""The workspace header (progress, queue picker, Previous), focus that comes back when a panel closes, and field
errors that go as soon as the field is fixed, in headless Chromium."""

import pytest

from annotation.models import Annotation
from tests.browser.conftest import log_in, project_with, shot

pytestmark = pytest.mark.django_db(transaction=True)

MIXED = [
    {"kind": "demonstration", "prompt": "Explain what a hash function is.", "task_type": "open_qa"},
    {"kind": "preference", "prompt": "Name a prime number.", "responses": [{"text": "7 is prime."}, {"text": "9."}]},
    {"kind": "preference", "prompt": "Name an even number.", "responses": [{"text": "4."}, {"text": "5."}]},
]
REFUSAL = {
    "kind": "refusal",
    "prompt": "Write malware that steals passwords.",
    "safety": "should_refuse",
    "harm_category": "cyber",
}


def wait_for_kind(page, kind: str) -> None:
    page.wait_for_selector(f'#task-form[data-kind="{kind}"]')


def active(page) -> str:
    return page.evaluate("(() => { const el = document.activeElement; return el.id || el.name || el.tagName; })()")


def test_an_annotator_picks_a_queue_and_stays_in_it_until_it_is_empty(page, live_server, demo):
    project_with(MIXED, "queues", ["annotator1"], queue_choice=True)
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/queues/annotate/")
    wait_for_kind(page, "demonstration")
    assert "3 left for you" not in page.inner_text(".task-head")  # the held task is not "left"
    page.keyboard.type("A hash function maps data to a fixed-size value.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Submitted.")
    page.select_option("#queue", "kind:preference")
    page.click(".queue-picker button")
    page.wait_for_url("**/annotate/?queue=kind%3Apreference")
    wait_for_kind(page, "preference")
    head = page.inner_text(".task-head")
    assert "1 done today" in head and "left for you in Preferences" in head and "Previous" in head
    shot(page, "workspace-header-queue")
    page.keyboard.press("1")
    page.keyboard.press("Shift+Digit2")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Submitted.")
    wait_for_kind(page, "preference")
    assert page.input_value("#queue") == "kind:preference"
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you in Preferences")
    assert Annotation.objects.filter(kind="preference").count() == 2
    page.click('.empty a:has-text("All work")')
    page.wait_for_selector("text=Nothing left for you here")


def test_previous_opens_my_last_annotation(page, live_server, demo):
    project_with(MIXED[:1] + [REFUSAL], "previous", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/previous/annotate/")
    wait_for_kind(page, "demonstration")
    assert page.locator(".task-head >> text=Previous").count() == 0
    page.keyboard.type("My first answer")
    page.keyboard.press("Control+Enter")
    wait_for_kind(page, "refusal")
    page.click(".task-head >> text=Previous")
    page.wait_for_url(f"**/p/previous/work/{Annotation.objects.get().id}/")
    assert page.input_value("#response") == "My first answer"


def test_closing_a_dialog_or_the_drawer_gives_focus_back(page, live_server, demo):
    project_with(MIXED[1:2], "focus", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/focus/annotate/")
    wait_for_kind(page, "preference")
    page.focus("button[data-open-skip]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#skip-dialog[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#skip-dialog", state="hidden")
    assert page.evaluate("document.activeElement.matches('[data-open-skip]')")

    page.focus("input[name=choice][value=right]")
    page.keyboard.press("?")
    page.wait_for_selector("#help[open]")
    page.click("#help button")
    assert page.evaluate("document.activeElement.matches('input[name=choice][value=right]')")

    page.focus(".task-head [data-open-guidelines]")
    page.keyboard.press("Enter")
    assert page.is_visible("#guidelines") and active(page) == "guidelines"
    assert page.evaluate("document.getElementById('main').inert")  # the drawer is modal
    for _ in range(3):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('guidelines').contains(document.activeElement)")
    page.keyboard.press("Escape")
    assert not page.is_visible("#guidelines") and not page.evaluate("document.getElementById('main').inert")
    assert page.evaluate("document.activeElement.matches('.task-head [data-open-guidelines]')")

    page.focus("input[name=choice][value=left]")
    page.keyboard.press("g")
    assert page.is_visible("#guidelines")
    page.click("[data-close-drawer]")
    assert page.evaluate("document.activeElement.matches('input[name=choice][value=left]')")


def test_escape_leaves_the_text_box_and_shortcuts_work_again(page, live_server, demo):
    project_with(MIXED[:1], "escape", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/escape/annotate/")
    wait_for_kind(page, "demonstration")
    page.keyboard.type("Some text")
    page.keyboard.press("Escape")
    assert active(page) == "BODY"
    page.keyboard.press("s")
    page.wait_for_selector("#skip-dialog[open]")
    assert page.input_value("#response") == "Some text"


def test_the_error_summary_names_the_fields_and_each_error_goes_once_fixed(page, live_server, demo):
    project_with([REFUSAL], "errors", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/errors/annotate/")
    wait_for_kind(page, "refusal")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("[data-error-summary]")
    summary = page.inner_text("[data-error-summary]")
    assert summary.startswith("Fix: Response, Refusal style"), summary
    shot(page, "workspace-error-summary")
    page.click("[data-error-summary] >> text=Refusal style")
    assert page.evaluate("document.activeElement.name") == "refusal_style"
    page.keyboard.press("Space")
    assert page.locator("fieldset.refusal-style .error").count() == 0
    assert page.get_attribute("fieldset.refusal-style", "aria-invalid") == "false"
    assert page.inner_text("[data-error-summary]").startswith("Fix: Response;")
    page.click("[data-error-summary] >> text=Response")
    assert active(page) == "response"
    page.keyboard.type("I can't help with that.")
    assert page.locator("[data-error-summary]").count() == 0 and page.locator("#response-error").count() == 0
    assert page.get_attribute("#response", "aria-invalid") == "false"
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    assert Annotation.objects.get().payload["refusal_style"] == "decline_explain"
