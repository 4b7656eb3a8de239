"""From the quality pages into review: a flagged annotator's work, and disputes marked once adjudicated."""

import html
import re

import pytest

from annotation.models import Item, Membership
from annotation.review import adjudicate
from tests.annotation.test_quality import judge, pair_rows
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(project, users, make_items):
    """21 pairs: ann1 calls every one a tie (flagged: too many ties), ann2 and the reviewer pick response 0."""
    project.overlap = 3
    project.save()
    make_items(project, pair_rows(21))
    Item.objects.update(open_slots=3)
    judge(project, users["ann1"], lambda item: ("tie", ""))
    judge(project, users["ann2"], lambda item: (0, "clear"))
    judge(project, users["reviewer"], lambda item: (0, "clear"))
    return project


def test_a_flagged_annotator_links_to_their_work_of_the_flagged_kind(judged, users, browser_client):
    login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/quality/annotators/").content.decode()
    links = dict(re.findall(r'<tr id="annotator-(\w+)".*?<a href="([^"]+)"[^>]*>Review their work</a>', page, re.S))
    assert html.unescape(links["ann1"]) == "/p/demo/review/?annotator=ann1&kind=preference"
    assert html.unescape(links["ann2"]) == "/p/demo/review/?annotator=ann2"
    assert "tie_rate" not in page and "calls too many ties" in page
    target = browser_client.get(html.unescape(links["ann1"]))
    assert target.status_code == 200
    assert "Review: better responses to preference pairs, by ann1" in target.content.decode()


def test_disputes_mark_adjudicated_items_and_can_hide_them(judged, users, browser_client):
    first, second = Item.objects.order_by("id")[:2]
    reviewer = Membership.objects.get(project=judged, user=users["reviewer"])
    adjudicate(membership=reviewer, item_id=first.id, choice=1, strength="clear")
    adjudicate(membership=reviewer, item_id=second.id, choice="tie")
    login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/quality/disputes/").content.decode()
    assert page.count("Adjudicated: B") == 1 and page.count("Adjudicated: Tie") == 1
    assert f"#{first.id}</a>" in page
    open_only = browser_client.get("/p/demo/quality/disputes/?open=1").content.decode()
    assert "Adjudicated:" not in open_only and f"#{first.id}</a>" not in open_only
    assert f"/quality/disputes/{Item.objects.order_by('id')[2].id}/" in open_only
