"""An annotator flags an item from the workspace; the admin finds that item in the data browser by a word of its
prompt, reads the comment on its page, resolves it and excludes the item from exports, all in a real browser."""

import pytest

from annotation.models import Comment, Item
from tests.browser.conftest import doc_shot, log_in
from tests.conftest import demo_rows

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_finds_a_flagged_item_resolves_its_comment_and_excludes_it(page, live_server, project, make_items):
    rows = demo_rows(40, task_type="open_qa") + [
        {"kind": "demonstration", "prompt": "Summarise the zeppelin report", "task_type": "summarization"}
    ]
    make_items(project, rows)
    wanted = Item.objects.get(prompt__contains="zeppelin")

    log_in(page, live_server, "ann1", "pw-ann1")
    assert page.goto(f"{live_server.url}/p/demo/data/").status == 403
    page.goto(f"{live_server.url}/p/demo/annotate/")
    page.wait_for_selector("textarea[name=text]")
    item_id = int(page.locator("form.comment-form").get_attribute("action").split("/items/")[1].split("/")[0])
    page.fill("textarea[name=text]", "The prompt is cut off.")
    page.click("text=Send comment")
    page.wait_for_selector("text=Comment sent")
    comment = Comment.objects.get()
    assert (comment.item_id, comment.text) == (item_id, "The prompt is cut off.")
    page.click("text=Log out")

    log_in(page, live_server, "admin", "pw-admin")
    page.goto(f"{live_server.url}/p/demo/data/")
    assert "41 items" in page.locator("h1").inner_text()
    page.fill("#id_q", "zeppelin")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**q=zeppelin**")
    assert page.locator(".data-table tbody tr").count() == 1
    doc_shot(page, "data-browser")
    page.click(f".data-table a:has-text('#{wanted.id}')")
    page.wait_for_url(f"**/items/{wanted.id}/")

    page.goto(f"{live_server.url}/p/demo/comments/")
    assert "The prompt is cut off." in page.locator("main").inner_text()
    page.click("button:has-text('Resolve')")
    page.wait_for_load_state()
    comment.refresh_from_db()
    assert comment.resolved_at is not None

    page.goto(f"{live_server.url}/p/demo/data/?q=zeppelin")
    page.check(f"input[name=item][value='{wanted.id}']")
    page.select_option("#bulk-action", "exclude")
    page.fill("#bulk-reason", "Off-topic for this release")
    page.click("#bulk-form button:has-text('Apply')")
    page.wait_for_load_state()
    wanted.refresh_from_db()
    assert wanted.excluded_reason == "Off-topic for this release"
    assert Item.objects.exclude(excluded_reason="").count() == 1
    page.goto(f"{live_server.url}/p/demo/items/{wanted.id}/")
    assert "Off-topic for this release" in page.locator("main").inner_text()
    doc_shot(page, "item-page")
