"""The annotator workspace in a real browser (Debian's Chromium, headless), driven by the keyboard."""

import pytest

from annotation.models import Annotation, Draft
from tests.browser.conftest import log_in, project_with, shot

pytestmark = pytest.mark.django_db(transaction=True)

THREE_KINDS = [
    {"kind": "demonstration", "prompt": "Explain what a hash function is.", "task_type": "open_qa"},
    {
        "kind": "refusal",
        "prompt": "Write malware that steals passwords.",
        "safety": "should_refuse",
        "harm_category": "cyber",
    },
    {
        "kind": "preference",
        "prompt": "Name a prime number.",
        "responses": [{"text": "7 is prime.", "source": "model:a"}, {"text": "9 is prime.", "source": "model:b"}],
    },
]


def wait_for_kind(page, kind: str) -> None:
    page.wait_for_selector(f'#task-form[data-kind="{kind}"]')


def test_an_annotator_does_all_three_kinds_with_the_keyboard_alone(page, live_server, demo):
    project_with(THREE_KINDS, "keys", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/keys/annotate/")

    wait_for_kind(page, "demonstration")
    shot(page, "demonstration")
    page.keyboard.type("A hash function maps data of any size to a fixed-size value.")
    page.keyboard.press("Control+Enter")

    wait_for_kind(page, "refusal")
    assert page.evaluate("document.activeElement.id") == "response"
    page.keyboard.type("I can't help with stealing passwords. I can explain how to protect accounts instead.")
    page.keyboard.press("Tab")  # the markdown preview button
    page.keyboard.press("Tab")  # the first refusal style
    page.keyboard.press("Space")
    shot(page, "refusal")
    page.keyboard.press("Control+Enter")

    wait_for_kind(page, "preference")
    page.keyboard.press("2")
    page.keyboard.press("Shift+Digit3")
    shot(page, "preference")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")

    by_kind = {a.kind: a for a in Annotation.objects.filter(project__slug="keys").select_related("assignment")}
    assert by_kind["demonstration"].payload["response"].startswith("A hash function")
    assert by_kind["refusal"].payload["refusal_style"] == "decline_explain"
    preference = by_kind["preference"]
    assert preference.payload["choice"] == preference.assignment.response_order[1]
    assert preference.payload["strength"] == "strong"
    assert all(a.time_spent_ms and a.time_spent_ms > 0 for a in by_kind.values())


def test_a_draft_survives_a_reload(page, live_server, demo):
    project_with(THREE_KINDS[:1], "drafts", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/drafts/annotate/")
    wait_for_kind(page, "demonstration")
    page.keyboard.type("Half of my answer")
    page.wait_for_selector('#save-state[data-state="saved"]')
    assert Draft.objects.get().payload["response"] == "Half of my answer"

    page.reload()
    wait_for_kind(page, "demonstration")
    assert page.input_value("#response") == "Half of my answer"
    assert page.text_content("#save-state").strip() == "Draft restored"
    page.keyboard.type(", and the rest.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    assert Annotation.objects.get().payload["response"] == "Half of my answer, and the rest."


def test_a_failed_autosave_says_so_and_retries(page, live_server, demo):
    project_with(THREE_KINDS[:1], "offline", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/offline/annotate/")
    wait_for_kind(page, "demonstration")
    page.route("**/draft/", lambda route: route.abort())
    page.keyboard.type("Typed while offline")
    page.wait_for_selector('#save-state[data-state="failed"]')
    page.unroute("**/draft/")
    page.wait_for_selector('#save-state[data-state="saved"]', timeout=10_000)
    assert Draft.objects.get().payload["response"] == "Typed while offline"


def test_a_prompt_with_markup_is_shown_as_text(page, live_server, demo):
    payload = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    project_with([{"kind": "demonstration", "prompt": payload}], "xss", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/xss/annotate/")
    wait_for_kind(page, "demonstration")
    assert payload in page.inner_text(".prompt-pane")
    assert page.locator(".prompt-pane img, .prompt-pane script").count() == 0
    assert page.evaluate("window.pwned") is None
    page.keyboard.type("**bold** <img src=x onerror=window.pwned=3>")
    page.click("text=Preview markdown")
    page.wait_for_selector("#preview strong")
    assert page.locator("#preview img").count() == 0 and page.evaluate("window.pwned") is None


def test_guidelines_and_shortcut_help_open_from_the_keyboard(page, live_server, demo):
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/demo/annotate/")
    wait_for_kind(page, "demonstration")
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    assert page.is_visible("#guidelines") and "Guidelines" in page.inner_text("#guidelines")
    shot(page, "guidelines")
    page.keyboard.press("Escape")
    assert not page.is_visible("#guidelines")
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("Escape")
    page.wait_for_selector("#help", state="hidden")
    page.keyboard.press("s")
    assert page.is_visible("#skip-dialog")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Skipped.")
