"""The data browser: every filter and sort on hand-built data, through the web page and the API; junk is a 400."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next, assignment_skip
from annotation.data_browser import browse_page
from annotation.models import Item, Membership
from annotation.review import review_decide
from tests.conftest import api_key, login

pytestmark = pytest.mark.django_db

PAIR = [{"text": "first answer"}, {"text": "second answer"}]


def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
    return client


def work(project, user, answer):
    """`user` takes every item offered: answer(item) is the payload, or None to skip it."""
    while (assignment := assignment_next(project=project, user=user)) is not None:
        payload = answer(assignment.item)
        if payload is None:
            assignment_skip(assignment_id=assignment.id, user=user, reason="not mine")
        else:
            annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)


@pytest.fixture
def data(project, users, make_items):
    """Named items: two demonstrations, a refusal, three pairs (unanimous, split, single judgment) and a gold pair;
    ann1 did every item, ann2 some; one accepted and one rejected demonstration."""
    rows = [
        {"kind": "demonstration", "prompt": "Explain quicksort in Python", "task_type": "code", "domain": "dev"},
        {"kind": "demonstration", "prompt": "Say hello to a colleague", "task_type": "chat", "domain": "office"},
        {"kind": "refusal", "prompt": "Write ransomware", "safety": "should_refuse", "harm_category": "cyber"},
        {"kind": "preference", "prompt": "Pair unanimous", "responses": PAIR},
        {"kind": "preference", "prompt": "Pair split", "responses": [{"text": "one"}, {"text": "the Second one"}]},
        {"kind": "preference", "prompt": "Pair single", "responses": PAIR},
        {"kind": "preference", "prompt": "Gold pair", "responses": PAIR, "gold": {"choice": 0}},
    ]
    items = make_items(project, rows)
    named = dict(zip(["quick", "hello", "ransom", "unanimous", "split", "single", "gold"], items, strict=True))
    ann1_votes = {"Pair unanimous": 0, "Pair split": 0, "Pair single": 0}
    ann2_votes = {"Pair unanimous": 0, "Pair split": 1}

    def by_ann1(item):
        if item.kind == "preference":
            return {"choice": ann1_votes[item.prompt], "strength": "clear"}
        if item.kind == "refusal":
            return {"response": "No.", "refusal_style": "decline_explain"}
        return {"response": f"Answer to {item.prompt}"}

    def by_ann2(item):
        if item.prompt in ann2_votes:
            return {"choice": ann2_votes[item.prompt], "strength": "clear"}
        if item.prompt.startswith("Explain"):
            return {"response": "A zebra-striped explanation"}
        return None

    work(project, users["ann1"], by_ann1)
    work(project, users["ann2"], by_ann2)
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    for item, decision in [(named["quick"], "accept"), (named["hello"], "reject")]:
        annotation = item.annotations.get(annotator=users["ann1"])
        review_decide(membership=reviewer, annotation_id=annotation.id, decision=decision, reason="unhelpful")
    Item.objects.filter(id=named["quick"].id).update(created_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    Item.objects.filter(id=named["ransom"].id).update(excluded_reason="truncated prompt")
    return {name: item.id for name, item in named.items()}


def ids(client, query=""):
    response = client.get(f"/api/v1/projects/demo/items/?{query}")
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=preference", ["unanimous", "split", "single", "gold"]),
        ("task_type=code", ["quick"]),
        ("domain=office", ["hello"]),
        ("status=complete", ["quick", "unanimous", "split"]),
        ("status=open", ["hello", "ransom", "single"]),
        ("status=excluded", ["ransom"]),
        ("status=gold", ["gold"]),
        ("gold=true", ["gold"]),
        ("gold=false", ["quick", "hello", "ransom", "unanimous", "split", "single"]),
        ("annotator=ann2", ["quick", "unanimous", "split"]),
        ("agreement=unanimous", ["unanimous"]),
        ("agreement=split", ["split"]),
        ("agreement=single", ["single"]),
        ("review_status=accepted", ["quick"]),
        ("review_status=rejected", ["hello"]),
        ("review_status=pending", ["quick", "ransom"]),
        ("created_to=2020-01-02", ["quick"]),
        ("created_from=2020-01-02&kind=demonstration", ["hello"]),
        ("q=QUICKSORT", ["quick"]),
        ("q=second one", ["split"]),
        ("q=zebra", ["quick"]),
        ("q=answer&kind=preference", ["unanimous", "single", "gold"]),
        ("kind=preference&agreement=split&annotator=ann2", ["split"]),
    ],
)
def test_each_filter_keeps_exactly_its_items(data, users, query, expected):
    assert ids(api(users["reviewer"]), query) == [data[name] for name in expected]


def test_an_item_with_a_live_lease_is_in_progress(data, project, users):
    Membership.objects.create(project=project, user=users["outsider"], role="annotator")
    leased = assignment_next(project=project, user=users["outsider"])
    assert ids(api(users["admin"]), "status=in_progress") == [leased.item_id]


@pytest.mark.parametrize("sort", ["id", "created", "completed", "task_type", "kind"])
def test_each_sort_orders_the_page_both_ways(data, users, browser_client, sort):
    login(browser_client, users["reviewer"])
    items = {item.id: item for item in Item.objects.filter(id__in=data.values())}
    column = {"id": "id", "created": "created_at", "completed": "completed_count"}.get(sort, sort)
    ascending = sorted(items, key=lambda pk: (getattr(items[pk], column), pk))
    descending = sorted(items, key=lambda pk: (getattr(items[pk], column), pk), reverse=True)
    for order, expected in [(sort, ascending), (f"-{sort}", descending)]:
        response = browser_client.get(f"/p/demo/data/?sort={order}")
        assert response.status_code == 200
        assert [row.id for row in response.context["rows"]] == expected, order


def test_the_page_lists_rows_that_open_their_item_page(data, users, browser_client):
    login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/data/?q=quicksort").content.decode()
    assert f'href="/p/demo/items/{data["quick"]}/"' in page and "Explain quicksort" in page
    assert "Ransomware" not in page
    assert 'name="action"' not in page  # bulk actions are the admin's


def test_the_page_paginates(project, users, make_items, browser_client):
    make_items(project, [{"kind": "demonstration", "prompt": f"Prompt {i}"} for i in range(120)])
    login(browser_client, users["admin"])
    first = browser_client.get("/p/demo/data/")
    third = browser_client.get("/p/demo/data/?page=3")
    assert first.context["count"] == 120 and first.context["pages"] == 3
    assert len(first.context["rows"]) == 50 and len(third.context["rows"]) == 20
    assert third.context["rows"][-1].prompt == "Prompt 119"
    assert "page=2" in first.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=poem", "kind"),
        ("status=lost", "status"),
        ("agreement=maybe", "agreement"),
        ("review_status=x", "review_status"),
        ("gold=perhaps", "gold"),
        ("created_from=yesterday", "created_from"),
        ("q=ab", "Search"),
        ("sort=prompt", "sort"),
        ("page=0", "page"),
        ("page=99999999999999999999", "page"),
    ],
)
def test_a_junk_query_is_a_400_naming_the_field(data, users, browser_client, query, field):
    login(browser_client, users["reviewer"])
    response = browser_client.get(f"/p/demo/data/?{query}")
    assert response.status_code == 400 and f"{field}:" in response.content.decode()
    api_field = {"Search": "q"}.get(field, field)
    if field not in ("sort", "page"):
        answer = api(users["reviewer"]).get(f"/api/v1/projects/demo/items/?{query}")
        assert answer.status_code == 400 and api_field in answer.json()["errors"][0]["field"], answer.content


def test_the_api_refuses_an_unknown_filter(data, users):
    response = api(users["reviewer"]).get("/api/v1/projects/demo/items/?annotator__password=x")
    assert response.status_code == 400


def test_outsiders_get_404_and_annotators_403(data, users, browser_client):
    login(browser_client, users["outsider"])
    assert browser_client.get("/p/demo/data/").status_code == 404
    login(browser_client, users["ann1"])
    assert browser_client.get("/p/demo/data/").status_code == 403
    assert api(users["outsider"]).get("/api/v1/projects/demo/items/").status_code == 404
    assert api(users["ann1"]).get("/api/v1/projects/demo/items/").status_code == 403


def test_an_admin_of_another_project_sees_none_of_these_items(data, users, browser_client):
    from annotation.projects import project_create

    project_create(creator=users["outsider"], name="Other", slug="other")
    login(browser_client, users["outsider"])
    assert browser_client.get("/p/demo/data/").status_code == 404
    assert browser_client.get("/p/other/data/").context["rows"] == []


def test_the_page_query_count_does_not_grow_with_its_rows(project, users, make_items, browser_client):
    login(browser_client, users["admin"])

    def queries(query):
        with CaptureQueriesContext(connection) as captured:
            assert browser_client.get(f"/p/demo/data/?{query}").status_code == 200
        return len(captured.captured_queries)

    make_items(project, [{"kind": "demonstration", "prompt": f"Prompt {i}"} for i in range(5)])
    few = queries("q=prompt&status=open&sort=-created")
    make_items(project, [{"kind": "demonstration", "prompt": f"Other prompt {i}"} for i in range(80)])
    assert queries("q=prompt&status=open&sort=-created") == few
    # session, user, membership, the tag filter's choices, count, page rows, their tags
    assert few <= 7, few


def test_a_search_reads_only_what_its_page_and_count_need(project, users, make_items, monkeypatch):
    from annotation import data_browser

    items = make_items(project, [{"kind": "demonstration", "prompt": f"Prompt {i}"} for i in range(12)])
    monkeypatch.setattr(data_browser, "COUNT_CAP", 5)
    staff = Membership.objects.get(project=project, user=users["reviewer"])
    rows, count, more = data_browser.browse_page(staff, {"q": "prompt", "sort": "id"}, page=2, per_page=4)
    assert [row.id for row in rows] == [item.id for item in items[4:8]] and (count, more) == (5, True)
    rows, _, _ = data_browser.browse_page(staff, {"q": "prompt", "sort": "-id"}, page=1, per_page=4)
    assert [row.id for row in rows] == [item.id for item in reversed(items[-4:])]
    rows, count, more = data_browser.browse_page(staff, {"q": "number 1", "sort": "id"}, page=1, per_page=4)
    assert rows == [] and (count, more) == (0, False)
    rows, count, more = data_browser.browse_page(staff, {"kind": "demonstration"}, page=3, per_page=5)
    assert len(rows) == 2 and (count, more) == (12, False)


def test_a_search_narrowed_by_another_filter_finds_every_match(project, users, make_items):
    rows = [{"kind": "demonstration", "prompt": f"needle {i}"} for i in range(120)]
    rows += [{"kind": "refusal", "prompt": f"needle r{i}", "safety": "should_comply"} for i in range(5)]
    make_items(project, rows)
    staff = Membership.objects.get(project=project, user=users["reviewer"])
    found, count, more = browse_page(staff, {"kind": "refusal", "q": "needle", "sort": "id"}, page=1, per_page=50)
    assert (len(found), count, more) == (5, 5, False)
