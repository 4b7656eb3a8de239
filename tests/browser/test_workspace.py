"""The annotator workspace in a real browser (Debian's Chromium, headless), driven by the keyboard."""

import uuid

import pytest

from annotation.models import Annotation, Draft, Paraphrase
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


def test_arrow_keys_choose_left_right_and_tie_even_from_a_focused_choice(page, live_server, demo):
    project_with(THREE_KINDS[2:], "arrows", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/arrows/annotate/")
    wait_for_kind(page, "preference")
    page.focus("input[name=choice]")
    for key, choice in [("ArrowLeft", "left"), ("ArrowDown", "tie"), ("ArrowLeft", "left"), ("ArrowRight", "right")]:
        page.keyboard.press(key)
        assert page.evaluate("document.querySelector('input[name=choice]:checked').value") == choice, key
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.querySelector('input[name=choice]:checked').value") == "right"


def test_a_member_removed_while_typing_is_told_once_and_keeps_the_text(page, live_server, demo):
    from django.contrib.auth import get_user_model

    from annotation.members import member_remove

    project = project_with(THREE_KINDS[:1], "removed", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/removed/annotate/")
    wait_for_kind(page, "demonstration")
    page.keyboard.type("My careful answer")
    member_remove(project=project, by=get_user_model().objects.get(username="admin"), username="annotator1")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#save-state:has-text('Submit refused')")
    state = page.text_content("#save-state").strip()
    assert state.startswith("Submit refused: You are no longer a member of this project") and "try again" not in state
    assert page.input_value("#response") == "My careful answer"


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


def test_coming_back_online_saves_at_once_without_typing_again(page, live_server, demo):
    project_with(THREE_KINDS[:1], "online", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/online/annotate/")
    wait_for_kind(page, "demonstration")
    page.context.set_offline(True)
    page.keyboard.type("Typed on a train")
    page.wait_for_selector('#save-state[data-state="failed"]:has-text("Save failed")')
    # Retries back off (2 s, 4 s, 8 s): going online 7.5 s after the first failure falls between the third and
    # the fourth, so only the "online" event can save within the wait below.
    page.wait_for_timeout(7_500)
    assert not Draft.objects.exists()
    page.context.set_offline(False)
    page.wait_for_selector('#save-state[data-state="saved"]', timeout=3_000)
    assert Draft.objects.get().payload["response"] == "Typed on a train"
    page.reload()
    wait_for_kind(page, "demonstration")
    assert page.input_value("#response") == "Typed on a train"


def test_text_typed_offline_before_ctrl_enter_is_saved_on_coming_back_online(page, live_server, demo):
    project_with(THREE_KINDS[:1], "offline-submit", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/offline-submit/annotate/")
    wait_for_kind(page, "demonstration")
    page.keyboard.type("Saved before")
    page.wait_for_selector('#save-state[data-state="saved"]')
    page.context.set_offline(True)
    page.keyboard.type(", typed offline")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector('#save-state:has-text("Offline")')
    page.context.set_offline(False)
    page.wait_for_selector('#save-state[data-state="saved"]', timeout=1_500)
    assert Draft.objects.get().payload["response"] == "Saved before, typed offline"
    assert page.input_value("#response") == "Saved before, typed offline"


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
    page.wait_for_selector("#task-form")  # any kind: the demo's gold rate sometimes hands out a gold item first
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


REFUSAL = THREE_KINDS[1:2]


def test_ctrl_enter_inside_the_autosave_delay_keeps_the_newest_text(page, live_server, demo):
    project_with(REFUSAL, "race", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/race/annotate/")
    wait_for_kind(page, "refusal")
    page.keyboard.type("First words")
    page.wait_for_selector('#save-state[data-state="saved"]')
    page.keyboard.type(", and the newest ones")
    page.keyboard.press("Control+Enter")  # no refusal style picked: the submit is refused
    page.wait_for_selector("[data-error-summary]:has-text('Fix: Refusal style')")
    shot(page, "race-refused")
    assert Draft.objects.get().payload["response"] == "First words, and the newest ones"
    page.reload()
    wait_for_kind(page, "refusal")
    assert page.input_value("#response") == "First words, and the newest ones"
    page.keyboard.type("!")
    page.wait_for_selector('#save-state[data-state="saved"]')  # the next autosave is not a 409
    assert Draft.objects.get().payload["response"] == "First words, and the newest ones!"


def log_in_again_and_submit(page, live_server, demo, text: str) -> None:
    """Log in from the bar's link in a new tab; the waiting save goes through, then the submit."""
    with page.expect_popup() as popup:
        page.click("#save-state a")
    login_tab = popup.value
    login_tab.wait_for_selector("#id_username")
    login_tab.fill("#id_username", "annotator1")
    login_tab.fill("#id_password", demo["annotator1"])
    login_tab.press("#id_password", "Enter")
    login_tab.wait_for_url(f"{live_server.url}/")
    login_tab.close()
    page.bring_to_front()
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    page.wait_for_selector('#save-state[data-state="saved"]', timeout=10_000)
    assert Draft.objects.get().payload["response"] == text
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    assert Annotation.objects.get().payload["response"] == text


def test_an_expired_session_keeps_the_text_and_saves_it_after_logging_in_again(page, live_server, demo):
    from django.contrib.sessions.models import Session

    project_with(THREE_KINDS[:1], "expiry", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/expiry/annotate/")
    wait_for_kind(page, "demonstration")
    Session.objects.all().delete()
    page.keyboard.type("Written after the session ended")
    page.wait_for_selector('#save-state[data-state="expired"]')
    assert "session has expired" in page.inner_text("#save-state")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector('#save-state[data-state="expired"]')
    shot(page, "session-expired")
    assert page.input_value("#response") == "Written after the session ended"
    assert not Draft.objects.exists() and not Annotation.objects.exists()

    log_in_again_and_submit(page, live_server, demo, "Written after the session ended")


def test_a_failed_submit_says_why_and_keeps_the_text(page, live_server, demo):
    project_with(THREE_KINDS[:1], "failing", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/failing/annotate/")
    wait_for_kind(page, "demonstration")
    page.route("**/submit/", lambda route: route.fulfill(status=500, body="Server Error"))
    page.keyboard.type("An answer the server fails on")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector('#save-state[data-state="failed"]')
    shot(page, "submit-failed")
    assert "Submit failed: the server failed (500)" in page.inner_text("#save-state")
    assert page.input_value("#response") == "An answer the server fails on"
    page.unroute("**/submit/")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    assert Annotation.objects.get().payload["response"] == "An answer the server fails on"


def test_ctrl_enter_in_the_paraphrase_box_adds_the_paraphrase(page, live_server, demo):
    project_with(THREE_KINDS[:1], "para", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/para/annotate/")
    wait_for_kind(page, "demonstration")
    page.keyboard.type("My answer so far")
    page.click("text=Paraphrases of this instruction")
    page.click(".paraphrase-slot textarea")
    page.keyboard.type("Tell me what a hash function is.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".paraphrases li")
    shot(page, "paraphrase-added")
    assert Paraphrase.objects.get().text == "Tell me what a hash function is."
    assert not Annotation.objects.exists() and page.input_value("#response") == "My answer so far"


def test_choosing_tie_after_a_strength_clears_the_strength(page, live_server, demo):
    project_with(THREE_KINDS[2:], "tie", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/tie/annotate/")
    wait_for_kind(page, "preference")
    page.keyboard.press("2")
    page.keyboard.press("Shift+Digit2")
    assert page.is_checked('input[name="strength"][value="clear"]')
    page.keyboard.press("3")
    assert page.locator('input[name="strength"]:checked').count() == 0
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    assert Annotation.objects.get().payload["choice"] == "tie"


def test_clearing_all_cookies_asks_to_log_in_and_saves_after_logging_in_again(page, live_server, demo):
    project_with(THREE_KINDS[:1], "cookies", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/cookies/annotate/")
    wait_for_kind(page, "demonstration")
    page.context.clear_cookies()
    page.keyboard.type("Written after the cookies were cleared")
    page.wait_for_selector('#save-state[data-state="expired"]')
    assert "session has expired" in page.inner_text("#save-state")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector('#save-state[data-state="expired"]')
    assert "403" not in page.inner_text("#save-state")
    assert page.input_value("#response") == "Written after the cookies were cleared"
    assert not Draft.objects.exists() and not Annotation.objects.exists()

    log_in_again_and_submit(page, live_server, demo, "Written after the cookies were cleared")


def test_a_submit_swap_after_resizing_the_text_box_breaks_no_content_security_policy(page, live_server, demo):
    project_with(THREE_KINDS[:2], "csp", ["annotator1"])
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/csp/annotate/")
    wait_for_kind(page, "demonstration")
    box = page.locator("#response").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] + 100, steps=5)
    page.mouse.up()
    assert "height" in page.get_attribute("#response", "style")
    page.click("#response")
    page.keyboard.type("A first answer")
    page.keyboard.press("Control+Enter")
    wait_for_kind(page, "refusal")
    page.wait_for_timeout(500)
    assert violations == []


def test_strength_is_disabled_while_tie_is_chosen(page, live_server, demo):
    project_with(THREE_KINDS[2:], "tiestrength", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/tiestrength/annotate/")
    wait_for_kind(page, "preference")
    page.keyboard.press("1")
    page.keyboard.press("Shift+Digit3")
    page.keyboard.press("3")
    assert page.locator('input[name="strength"]:disabled').count() == 3
    page.keyboard.press("Shift+Digit2")
    page.click('label:has(input[name="strength"][value="slight"])', force=True)
    assert page.locator('input[name="strength"]:checked').count() == 0
    assert "tie has no strength" in page.inner_text("#save-state")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    assert Annotation.objects.get().payload["choice"] == "tie"


def test_choosing_a_side_after_tie_enables_the_strength_again(page, live_server, demo):
    project_with(THREE_KINDS[2:], "untie", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/untie/annotate/")
    wait_for_kind(page, "preference")
    page.keyboard.press("3")
    page.keyboard.press("2")
    assert page.locator('input[name="strength"]:disabled').count() == 0
    page.keyboard.press("Shift+Digit1")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    assert Annotation.objects.get().payload["strength"] == "slight"


def test_review_shortcuts_need_a_decision_and_leaving_warns_only_with_unsaved_text(page, live_server, demo):
    from django.contrib.auth import get_user_model

    from annotation.assignment import annotation_submit, assignment_next
    from annotation.models import Membership

    project = project_with(THREE_KINDS[:1], "rev", ["annotator1"])
    users = get_user_model().objects
    Membership.objects.create(project=project, user=users.get(username="reviewer"), role="reviewer")
    annotator = users.get(username="annotator1")
    assignment = assignment_next(project=project, user=annotator)
    continuation = [{"role": "user", "content": "Shorter?"}, {"role": "assistant", "content": "A digest."}]
    annotation_submit(
        assignment_id=assignment.id,
        user=annotator,
        client_id=uuid.uuid4(),
        payload={"response": "A long answer", "continuation": continuation},
    )
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    log_in(page, live_server, "reviewer", demo["reviewer"])
    page.goto(f"{live_server.url}/p/rev/review/")
    page.click("#note")
    page.keyboard.type("Nice")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector('[role=alert]:has-text("Choose a decision")')
    assert Annotation.objects.get().review_status == "pending"
    page.click("summary:has-text('Edit and accept')")
    page.fill("#response", "A short answer")
    page.locator('textarea[name="turn_assistant"]').fill("A fixed-size digest.")
    shot(page, "review-edit")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing waiting for review")
    assert dialogs == []
    annotation = Annotation.objects.get()
    assert annotation.review_status == "accepted"
    assert annotation.payload["continuation"][1]["content"] == "A fixed-size digest."


def test_leave_site_is_asked_only_when_text_would_be_lost(page, live_server, demo):
    project_with(THREE_KINDS[:1], "leave", ["annotator1"])
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/leave/author/")
    page.keyboard.type("Explain what a checksum is.")
    page.select_option("#task_type", index=1)
    page.fill("#response", "A checksum is a small value computed from data to detect errors.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Saved as item")
    page.goto(f"{live_server.url}/p/leave/annotate/")
    wait_for_kind(page, "demonstration")
    page.keyboard.type("Saved before I leave")
    page.wait_for_selector('#save-state[data-state="saved"]')
    page.goto(f"{live_server.url}/")
    assert dialogs == []
    page.goto(f"{live_server.url}/p/leave/annotate/")
    wait_for_kind(page, "demonstration")
    page.route("**/draft/", lambda route: route.abort())
    page.keyboard.type(" and unsaved")
    page.wait_for_selector('#save-state[data-state="failed"]')
    page.goto(f"{live_server.url}/")
    assert dialogs == ["beforeunload"]
