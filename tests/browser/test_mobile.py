"""Every main page on a 390 px phone: nothing overflows the document, the header folds into a menu, key hints
hide on touch screens; and the header marks the section a page belongs to."""

import os
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from annotation.assignment import annotation_submit, assignment_next
from annotation.comments import comment_add
from annotation.demo import demo_rows
from annotation.models import Annotation, Item, Membership
from tests.browser.conftest import SCREENSHOTS, log_in, project_with, shot
from training.snapshots.service import snapshot_create

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
LONG_URL = "https://example.com/" + "a-very-long-path-segment-without-any-breaks" * 4
LONG_CODE = "result=" + "x" * 160
KIND_ROWS = {
    "demonstration": {"kind": "demonstration", "prompt": f"Explain this link: {LONG_URL}", "task_type": "open_qa"},
    "conversation": {
        "kind": "demonstration",
        "messages": [
            {"role": "user", "content": f"What does `{LONG_CODE}` do?"},
            {"role": "assistant", "content": "It assigns a long string."},
            {"role": "user", "content": f"And this? {LONG_URL}"},
        ],
        "task_type": "chat",
    },
    "refusal": {
        "kind": "refusal",
        "prompt": f"Write malware and host it at {LONG_URL}",
        "safety": "should_refuse",
        "harm_category": "cyber",
    },
    "borderline": {
        "kind": "refusal",
        "prompt": "How do I kill a Python process that hangs?",
        "safety": "should_comply",
    },
    "preference": {
        "kind": "preference",
        "prompt": "Name a prime number.",
        "responses": [{"text": f"7 is prime. See {LONG_URL}"}, {"text": LONG_CODE}],
    },
    "ranking": {
        "kind": "preference",
        "prompt": "Which explanation of recursion is best?",
        "responses": [{"text": "A function that calls itself."}, {"text": LONG_URL}, {"text": "Smaller copies."}],
    },
}


def payload_for(item: Item, name: str) -> dict:
    if item.kind == "preference":
        return {"choice": 0 if name == "annotator1" else 1, "strength": "clear", "rationale": f"{name}: {LONG_URL}"}
    if item.safety == "should_refuse":
        return {"response": f"I can't help with that. {LONG_URL}", "refusal_style": "decline_explain"}
    return {"response": f"{name} answers with {LONG_CODE}"}


def realistic_project():
    """~200 items of every kind, with work from two annotators (pending review, some disagreeing), a comment and a
    snapshot; the items the annotators see first are of every kind."""
    rows = demo_rows()
    first = [r for r in rows if r["kind"] == "preference" and "gold" not in r][:3] + [
        r for r in rows if r["kind"] == "refusal"
    ][:2]
    project = project_with(
        first + [r for r in rows if r not in first], "field", ["annotator1", "annotator2", "reviewer"], overlap=2
    )
    users = get_user_model().objects
    for name in ("annotator1", "annotator2"):
        user = users.get(username=name)
        for _ in range(8):
            assignment = assignment_next(project=project, user=user)
            annotation_submit(
                assignment_id=assignment.id,
                user=user,
                client_id=uuid.uuid4(),
                payload=payload_for(assignment.item, name),
            )
    admin = Membership.objects.get(project=project, user__username="admin")
    comment_add(membership=admin, item_id=Annotation.objects.first().item_id, text=f"Look at {LONG_URL}")
    snapshot_create(project=project, user=admin.user, config={}, queue=False)
    return project


def disputed_item(project) -> Item:
    twice = Annotation.objects.filter(project=project, item__kind="preference").values("item")
    twice = twice.annotate(n=Count("id")).filter(n=2).values_list("item", flat=True)
    kinds = list(Annotation.objects.filter(project=project).values_list("item__kind", "item_id"))
    assert twice, f"no preference item annotated twice: {kinds}"
    return Item.objects.get(id=twice[0])


def kind_projects() -> dict[str, str]:
    """One small project per kind of task, each opening on that task; admin owns them all."""
    slugs = {}
    for name, row in KIND_ROWS.items():
        slugs[name] = f"m-{name}"
        project_with([row], slugs[name], [])
    return slugs


def main_pages(live_server) -> dict[str, str]:
    project = realistic_project()
    item = disputed_item(project)
    annotation = Annotation.objects.filter(project=project).first()
    base = f"{live_server.url}/p/field"
    pages = {"home": f"{live_server.url}/"}
    pages |= {f"annotate-{name}": f"{live_server.url}/p/{slug}/annotate/" for name, slug in kind_projects().items()}
    pages |= {f"write-new-{mode}": f"{base}/author/{mode}/" for mode in ("instruction", "grounded", "refusal")}
    pages |= {
        "my-work": f"{base}/work/",
        "review-queue": f"{base}/review/",
        "review-history": f"{base}/review/{annotation.id}/",
        "quality-overview": f"{base}/quality/",
        "quality-annotators": f"{base}/quality/annotators/",
        "quality-agreement": f"{base}/quality/agreement/",
        "quality-coverage": f"{base}/quality/coverage/",
        "quality-disputes": f"{base}/quality/disputes/",
        "quality-duplicates": f"{base}/quality/duplicates/",
        "quality-consistency": f"{base}/quality/consistency/",
        "quality-item": f"{base}/items/{item.id}/",
        "adjudicate": f"{base}/quality/disputes/{item.id}/",
        "data-browser": f"{base}/data/",
        "comments": f"{base}/comments/",
        "snapshots": f"{base}/snapshots/",
        "snapshot": f"{base}/snapshots/1/",
        "models": f"{base}/models/",
        "cycles": f"{base}/cycles/",
        "schedule": f"{base}/schedule/",
        "settings": f"{base}/settings/",
        "guidelines": f"{base}/guidelines/",
        "guidelines-edit": f"{base}/guidelines/edit/",
        "members": f"{base}/members/",
        "audit": f"{base}/audit/",
        "imports": f"{base}/import/",
        "documents": f"{base}/documents/",
        "tokens": f"{live_server.url}/account/tokens/",
        "not-found": f"{live_server.url}/p/no-such-project/quality/",
    }
    return pages


def phone_context(browser, **touch):
    """A 390 x 844 window; a mobile browser would zoom out to fit a page that overflows, so `touch` is opt-in."""
    return browser.new_context(viewport=PHONE, **touch)


@pytest.fixture
def phone(browser):
    context = phone_context(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


WIDEST = """() => [...document.body.querySelectorAll('*')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 3)
  .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : ''))"""


def mobile_shot(page, name: str) -> None:
    """docs/screenshots/mobile/NAME.png, only when QUORUM_DOC_SHOTS is set (the files are large)."""
    if os.environ.get("QUORUM_DOC_SHOTS"):
        (SCREENSHOTS / "mobile").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "mobile" / f"{name}.png"), full_page=False)


def test_no_main_page_is_wider_than_a_phone(phone, live_server, demo):
    pages = main_pages(live_server)
    log_in(phone, live_server, "admin", demo["admin"])
    wide = {}
    for name, url in pages.items():
        response = phone.goto(url)
        assert response.status == (404 if name == "not-found" else 200), f"{name}: {response.status}"
        phone.wait_for_load_state("networkidle")
        mobile_shot(phone, name)
        assert phone.evaluate("window.innerWidth") == PHONE["width"]
        if (extra := overflow(phone)) > 0:
            wide[name] = (extra, phone.evaluate(WIDEST))
    assert wide == {}, f"pages wider than 390 px (by how many px, and the widest elements): {wide}"


def test_the_desktop_workspace_and_data_browser_keep_their_layout(page, live_server, demo):
    slugs = kind_projects()
    log_in(page, live_server, "admin", demo["admin"])
    page.goto(f"{live_server.url}/p/{slugs['preference']}/annotate/")
    page.wait_for_selector('#task-form[data-kind="preference"]')
    shot(page, "desktop-workspace-preference")
    panes = page.locator(".responses .pane").all()
    assert panes[0].bounding_box()["y"] == panes[1].bounding_box()["y"], "the two responses sit side by side"
    page.goto(f"{live_server.url}/p/{slugs['demonstration']}/annotate/")
    page.wait_for_selector('#task-form[data-kind="demonstration"]')
    shot(page, "desktop-workspace-demonstration")
    realistic_project()
    page.goto(f"{live_server.url}/p/field/data/")
    shot(page, "desktop-data-browser")
    assert overflow(page) <= 0


SECTIONS = {
    "/": "Quorum",
    "/p/hl/annotate/": "Annotate",
    "/p/hl/author/refusal/": "Write new",
    "/p/hl/work/": "My work",
    "/p/hl/review/": "Review",
    "/p/hl/quality/coverage/": "Quality",
    "/p/hl/quality/disputes/": "Quality",
    "/p/hl/data/": "Data",
    "/p/hl/snapshots/": "Snapshots",
    "/p/hl/models/": "Models",
    "/p/hl/schedule/": "Cycles",
    "/p/hl/settings/": "Admin",
    "/p/hl/members/": "Admin",
    "/p/hl/comments/": "Admin",
    "/p/hl/audit/": "Admin",
    "/account/tokens/": "API tokens",
}


def test_the_header_marks_the_section_of_every_page(page, live_server, demo):
    project_with([KIND_ROWS["demonstration"]], "hl", [])
    log_in(page, live_server, "admin", demo["admin"])
    for path, section in SECTIONS.items():
        page.goto(live_server.url + path)
        current = page.locator("header.bar [aria-current=page]")
        assert current.all_inner_texts() == [section], path
        weight = current.evaluate("(a) => getComputedStyle(a).fontWeight")
        assert int(weight) >= 700, f"{path}: the current section does not stand out"
    page.goto(f"{live_server.url}/p/hl/guidelines/")
    assert page.locator("header.bar [aria-current=page]").count() == 0


def test_the_header_folds_into_a_menu_that_the_keyboard_opens_and_escape_closes(browser, live_server, demo):
    project_with([KIND_ROWS["demonstration"]], "fold", [])
    context = phone_context(browser)
    page = context.new_page()
    log_in(page, live_server, "admin", demo["admin"])
    page.goto(f"{live_server.url}/p/fold/quality/")
    button = page.get_by_role("button", name="Menu")
    quality = page.locator("header nav a", has_text="Quality")
    assert button.is_visible() and not quality.is_visible()
    assert page.locator("header .crumb").inner_text() == "Fold"
    assert button.get_attribute("aria-controls") == "site-menu" and button.get_attribute("aria-expanded") == "false"
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true" and quality.is_visible()
    assert quality.get_attribute("aria-current") == "page"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Annotate"
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false" and not quality.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")
    page.keyboard.press("Space")
    assert quality.is_visible()
    shot(page, "phone-menu-open")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert quality.is_visible() and not button.is_visible()
    context.close()

    without_js = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = without_js.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", demo["admin"])
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/p/fold/quality/")
    assert not page.get_by_role("button", name="Menu").is_visible()
    assert page.locator("header nav a", has_text="Quality").is_visible()
    assert overflow(page) <= 0
    without_js.close()


def test_key_hints_hide_on_a_touch_screen(browser, live_server, demo):
    slugs = kind_projects()
    for touch, hints_shown in (({}, True), ({"has_touch": True, "is_mobile": True}, False)):
        context = phone_context(browser, **touch)
        page = context.new_page()
        log_in(page, live_server, "admin", demo["admin"])
        page.goto(f"{live_server.url}/p/{slugs['preference']}/annotate/")
        page.wait_for_selector('#task-form[data-kind="preference"]')
        visible_keys = page.locator("main kbd:visible").count()
        shortcuts = page.locator(".hint-keys", has_text="shortcuts")
        submit = page.locator(".task-bar button[type=submit]")
        assert (visible_keys > 0) == hints_shown, touch
        assert shortcuts.is_visible() == hints_shown, touch
        assert submit.is_visible() and "Submit" in submit.inner_text()
        assert ("+" in submit.inner_text()) == hints_shown, "no stray '+' once the keys are hidden"
        if not hints_shown:
            shot(page, "touch-workspace")
        context.close()


def test_links_buttons_inputs_and_pills_show_where_the_focus_is(page, live_server, demo):
    slugs = kind_projects()
    log_in(page, live_server, "admin", demo["admin"])
    page.goto(f"{live_server.url}/p/{slugs['preference']}/annotate/")
    page.wait_for_selector('#task-form[data-kind="preference"]')
    ring = "(e) => getComputedStyle(e).outlineStyle !== 'none' && parseFloat(getComputedStyle(e).outlineWidth) >= 2"
    for focused, ringed in [
        ("header nav a >> nth=0", "header nav a >> nth=0"),
        (".task-bar button[type=submit]", ".task-bar button[type=submit]"),
        ("textarea >> nth=0", "textarea >> nth=0"),
        ("input[name=strength] >> nth=0", "label.pill:has(input[name=strength]) >> nth=0"),
    ]:
        page.keyboard.press("Tab")
        page.locator(focused).focus()
        assert page.locator(ringed).evaluate(ring), f"no focus ring on {ringed}"
