"""An admin tags two items in bulk from the data browser, filters the table by that tag, and on an item's page
removes the tag and adds another, all in a real browser."""

import pytest

from annotation.models import Item
from annotation.tags import item_tags
from tests.browser.conftest import log_in
from tests.conftest import demo_rows

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_tags_items_filters_by_tag_and_edits_an_items_tags(page, live_server, project, make_items):
    items = make_items(project, demo_rows(5, task_type="open_qa"))
    first, second = items[1], items[3]

    log_in(page, live_server, "admin", "pw-admin")
    page.goto(f"{live_server.url}/p/demo/data/")
    page.check(f"input[name=item][value='{first.id}']")
    page.check(f"input[name=item][value='{second.id}']")
    page.select_option("#bulk-action", "tag_add")
    page.fill("#bulk-tag", " Edge_Case ")
    page.click("#bulk-form button:has-text('Apply')")
    page.wait_for_selector("text=Tag edge_case added to 2 items.")
    assert item_tags(item.id for item in items) == {first.id: ["edge_case"], second.id: ["edge_case"]}

    page.select_option("#id_tag", "edge_case")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**tag=edge_case**")
    assert page.locator(".data-table tbody tr").count() == 2
    assert page.locator(".data-table .badge.tag").all_inner_texts() == ["edge_case", "edge_case"]

    page.click(f".data-table a:has-text('#{first.id}')")
    page.wait_for_url(f"**/items/{first.id}/")
    page.click("button[aria-label='Remove tag edge_case']")
    page.wait_for_selector("text=Tag edge_case removed.")
    page.fill("#item-tag", "scenario:late-night")
    page.click("button:has-text('Add tag')")
    page.wait_for_selector("text=Tag scenario:late-night added.")
    assert page.locator(".item-tags .badge.tag").all_inner_texts() == ["scenario:late-night"]
    assert item_tags([first.id]) == {first.id: ["scenario:late-night"]}
    assert Item.objects.get(id=second.id).tags.get().name == "edge_case"
