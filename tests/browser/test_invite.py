"""An admin invites a new member on the members page; they sign up through the link and annotate at once."""

from annotation.models import Annotation, Membership
from tests.browser.conftest import doc_shot, log_in, project_with

ROWS = [{"kind": "demonstration", "prompt": "Explain what a hash function is, in one sentence."}]
PASSWORD = "a-long-pass-phrase-9"


def test_an_invited_person_signs_up_and_submits_an_annotation(page, live_server, demo):
    project_with(ROWS, "team", ["annotator1"])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server, "admin", demo["admin"])
    page.goto(f"{live_server.url}/p/team/members/")
    page.select_option("#invite-role", "annotator")
    page.fill("#invite-email", "newbie@example.org")
    page.click("text=Create invite link")
    link = page.input_value("#invite-link")
    assert link.startswith(f"{live_server.url}/invite/")
    page.click("[data-copy=invite-link]")
    page.wait_for_selector("[data-copy=invite-link]:text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == link
    doc_shot(page, "members")

    page.click("text=Log out")
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(link)
    page.fill("#id_username", "newbie")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    doc_shot(page, "sign-up")
    page.click("text=Sign up and start")
    page.wait_for_url(f"{live_server.url}/p/team/annotate/")
    page.wait_for_selector('#task-form[data-kind="demonstration"]')
    page.click("#response")
    page.keyboard.type("A hash function maps data of any size to a fixed-size value.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")

    assert Membership.objects.get(project__slug="team", user__username="newbie").role == "annotator"
    annotation = Annotation.objects.get(project__slug="team", annotator__username="newbie")
    assert annotation.payload["response"].startswith("A hash function")
    page.goto(link)
    assert "already used" in page.text_content("main")
