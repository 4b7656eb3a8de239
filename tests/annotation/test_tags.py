"""Item tags: the rule, import and export, the data browser's filter and bulk actions, the item page, the API."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.errors import Conflict, InvalidInput
from annotation.item_import import item_import
from annotation.models import AuditEvent, Item, ItemTag
from annotation.project_settings import project_archive
from annotation.projects import project_create
from annotation.tags import MAX_TAGS, clean_tags, item_tags, items_tag, project_tags
from tests.annotation.test_data_browser import PAIR, api
from tests.conftest import login

pytestmark = pytest.mark.django_db


def tags_of(item) -> list[str]:
    return item_tags([item.id]).get(item.id, [])


# The rule


def test_a_tag_is_stripped_and_lower_cased_and_duplicates_go_in_order():
    assert clean_tags([" Edge_Case ", "rare", "EDGE_CASE", "scenario:exam-stress", "v1.2"]) == [
        "edge_case",
        "rare",
        "scenario:exam-stress",
        "v1.2",
    ]
    assert clean_tags([]) == []


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (["ok", "two words"], "'two words'"),
        (["_leading"], "'_leading'"),
        (["-x"], "'-x'"),
        (["caf\u00e9"], "'caf\u00e9'"),
        (["<b>"], "'<b>'"),
        (["a/b"], "'a/b'"),
        (["  "], "blank"),
        (["x" * 65], "65 characters"),
        ([3], "int"),
        ("edge_case", "list"),
        (None, "list"),
    ],
)
def test_a_bad_tag_is_refused_by_name(value, named):
    with pytest.raises(InvalidInput) as refused:
        clean_tags(value)
    assert refused.value.field == "tags" and named in refused.value.message


def test_an_item_has_at_most_twenty_tags_and_a_tag_at_most_64_characters():
    assert clean_tags(["x" * 64]) == ["x" * 64]
    assert len(clean_tags([f"t{i}" for i in range(MAX_TAGS)] + ["t0"])) == MAX_TAGS
    with pytest.raises(InvalidInput, match="at most 20"):
        clean_tags([f"t{i}" for i in range(MAX_TAGS + 1)])


# Import and export


def test_tags_import_on_every_kind(project, make_items):
    rows = [
        {"kind": "demonstration", "prompt": "Explain DNS", "tags": ["Edge_Case", "rare"]},
        {"kind": "refusal", "prompt": "Malware", "safety": "should_refuse", "harm_category": "cyber", "tags": ["rare"]},
        {"kind": "preference", "prompt": "Pick", "responses": PAIR, "tags": ["scenario:pick"]},
        {"kind": "demonstration", "prompt": "Untagged"},
    ]
    items = make_items(project, rows)
    assert [tags_of(item) for item in items] == [["edge_case", "rare"], ["rare"], ["scenario:pick"], []]
    assert project_tags(project) == [("edge_case", 1), ("rare", 2), ("scenario:pick", 1)]


def test_one_bad_tag_refuses_the_whole_import_by_line(project):
    lines = [
        json.dumps({"kind": "demonstration", "prompt": "Fine", "tags": ["ok"]}),
        json.dumps({"kind": "demonstration", "prompt": "Bad", "tags": ["ok", "not ok!"]}),
    ]
    with pytest.raises(InvalidInput) as refused:
        item_import(project=project, lines=lines)
    (error,) = refused.value.errors
    assert error["line"] == 2 and error["field"] == "tags" and "'not ok!'" in error["message"]
    assert not Item.objects.exists() and not ItemTag.objects.exists()


def test_an_import_writes_tags_with_a_query_per_batch_not_per_item(project, users):
    def queries(prefix: str, n: int) -> int:
        rows = [{"kind": "demonstration", "prompt": f"{prefix} {i}", "tags": ["rare", f"t{i % 3}"]} for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            item_import(project=project, lines=[json.dumps(row) for row in rows])
        return len(captured.captured_queries)

    few = queries("few", 3)
    assert queries("many", 60) == few
    assert ItemTag.objects.filter(name="rare").count() == 63


def test_the_import_api_takes_tags_and_names_a_bad_line(project, users):
    body = "\n".join(
        [
            json.dumps({"kind": "demonstration", "prompt": "Good", "tags": ["rare"]}),
            json.dumps({"kind": "demonstration", "prompt": "Bad", "tags": "rare"}),
        ]
    )
    client = api(users["admin"])
    url = "/api/v1/projects/demo/items/import/"
    response = client.post(url, body, content_type="application/x-ndjson")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 2, "field": "tags", "message": "Tags must be a list of strings, not str."}
    ]
    good = client.post(url, body.splitlines()[0], content_type="application/x-ndjson")
    assert good.status_code == 201, good.content
    (item,) = Item.objects.all()
    listed = client.get("/api/v1/projects/demo/items/").json()["results"]
    assert listed[0]["tags"] == ["rare"] and tags_of(item) == ["rare"]


def test_an_export_round_trips_the_tags_and_the_csv_lists_them(project, users, make_items, browser_client):
    rows = [
        {"kind": "demonstration", "prompt": "Explain DNS", "tags": ["rare", "edge_case"]},
        {"kind": "preference", "prompt": "Pick", "responses": PAIR, "tags": ["scenario:pick"]},
        {"kind": "demonstration", "prompt": "Untagged"},
    ]
    make_items(project, rows)
    response = api(users["admin"]).get("/api/v1/projects/demo/items/export/?format=jsonl")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line).get("tags") for line in lines] == [["edge_case", "rare"], ["scenario:pick"], None]
    other = project_create(creator=users["admin"], name="Other", slug="other")
    item_import(project=other, lines=lines)
    copied = Item.objects.filter(project=other).order_by("id")
    assert [tags_of(item) for item in copied] == [["edge_case", "rare"], ["scenario:pick"], []]

    token = login(browser_client, users["admin"])
    exported = browser_client.post(
        "/p/demo/data/bulk/", {"action": "export_csv", "scope": "all"}, HTTP_X_CSRFTOKEN=token
    )
    table = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [row["tags"] for row in table] == ["edge_case rare", "scenario:pick", ""]


# The data browser and the API list


@pytest.fixture
def tagged(project, make_items):
    rows = [
        {"kind": "demonstration", "prompt": "Edge one", "tags": ["edge_case"]},
        {"kind": "demonstration", "prompt": "Edge and rare", "tags": ["edge_case", "rare"]},
        {"kind": "demonstration", "prompt": "Plain"},
    ]
    return make_items(project, rows)


def test_the_browser_filters_by_tag_and_shows_each_rows_tags(tagged, users, browser_client):
    login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/data/?tag=rare")
    assert page.status_code == 200 and [row.id for row in page.context["rows"]] == [tagged[1].id]
    html = page.content.decode()
    assert '<span class="badge tag">edge_case</span>' in html and '<span class="badge tag">rare</span>' in html
    assert '<option value="edge_case">edge_case (2)</option>' in html
    both = browser_client.get("/p/demo/data/?tag=Edge_Case").context["rows"]
    assert [row.id for row in both] == [tagged[0].id, tagged[1].id]
    gone = browser_client.get("/p/demo/data/?tag=no_longer_used")
    assert gone.status_code == 200 and gone.context["rows"] == []
    assert 'value="no_longer_used" selected' in gone.content.decode()
    bad = browser_client.get("/p/demo/data/?tag=%3Cscript%3E")
    assert bad.status_code == 400 and "&#x27;&lt;script&gt;&#x27; is not allowed" in bad.content.decode()


def test_the_api_list_filters_by_tag(tagged, users):
    client = api(users["reviewer"])
    listed = client.get("/api/v1/projects/demo/items/?tag=rare").json()["results"]
    assert [(row["id"], row["tags"]) for row in listed] == [(tagged[1].id, ["edge_case", "rare"])]
    bad = client.get("/api/v1/projects/demo/items/?tag=a%20b")
    assert bad.status_code == 400 and "tag" in bad.json()["errors"][0]["field"]


def test_bulk_add_and_remove_a_tag_on_the_checked_rows_or_a_filter(tagged, users, browser_client):
    token = login(browser_client, users["admin"])

    def bulk(data, query=""):
        return browser_client.post(f"/p/demo/data/bulk/?{query}", data, HTTP_X_CSRFTOKEN=token)

    checked = [tagged[0].id, tagged[2].id]
    assert bulk({"action": "tag_add", "scope": "checked", "item": checked, "tag": " Rare "}).status_code == 302
    assert [tags_of(item) for item in tagged] == [["edge_case", "rare"], ["edge_case", "rare"], ["rare"]]
    event = AuditEvent.objects.get(action="item.tag")
    assert event.actor == users["admin"] and event.target == "2 items"
    assert event.after == {"items": checked, "count": 2, "add": ["rare"], "remove": []}

    assert bulk({"action": "tag_remove", "scope": "all", "tag": "edge_case"}, "tag=rare").status_code == 302
    assert [tags_of(item) for item in tagged] == [["rare"], ["rare"], ["rare"]]
    removed = AuditEvent.objects.filter(action="item.tag").latest("id")
    assert removed.after["remove"] == ["edge_case"] and removed.after["count"] == 2

    refused = bulk({"action": "tag_add", "scope": "all", "tag": "no spaces"})
    assert refused.status_code == 422 and "&#x27;no spaces&#x27; is not allowed" in refused.content.decode()
    missing = bulk({"action": "tag_add", "scope": "all"})
    assert missing.status_code == 422 and "name the tag" in missing.content.decode()
    login(browser_client, users["reviewer"])
    assert bulk({"action": "tag_add", "scope": "all", "tag": "x"}).status_code == 403


def test_bulk_tags_through_the_api(tagged, users):
    client = api(users["admin"])
    url = "/api/v1/projects/demo/items/bulk/"
    response = client.post(url, {"action": "tag_add", "filter": {"tag": "edge_case"}, "tag": "Hard"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"action": "tag_add", "items": 2, "changed": 2, "refused": {}}
    assert project_tags(tagged[0].project) == [("edge_case", 2), ("hard", 2), ("rare", 1)]
    body = {"action": "tag_remove", "item_ids": [tagged[0].id], "tag": "hard"}
    assert client.post(url, body, format="json").json()["changed"] == 1
    assert client.post(url, {"action": "tag_add", "item_ids": [tagged[0].id]}, format="json").status_code == 400


def test_an_item_keeps_at_most_twenty_tags_and_archived_projects_refuse(tagged, users):
    project = tagged[0].project
    items_tag(project=project, by=users["admin"], item_ids=[tagged[0].id], add=[f"t{i}" for i in range(19)], remove=[])
    assert len(tags_of(tagged[0])) == MAX_TAGS
    with pytest.raises(InvalidInput, match=f"Item {tagged[0].id} would have over 20 tags"):
        items_tag(project=project, by=users["admin"], item_ids=[tagged[0].id], add=["one_more"], remove=[])
    assert items_tag(project=project, by=users["admin"], item_ids=[tagged[0].id], add=["t1"], remove=[]) == 0
    with pytest.raises(InvalidInput, match="added and removed"):
        items_tag(project=project, by=users["admin"], item_ids=[tagged[2].id], add=["a"], remove=["a"])
    project_archive(project=project, by=users["admin"])
    with pytest.raises(Conflict):
        items_tag(project=project, by=users["admin"], item_ids=[tagged[2].id], add=["late"], remove=[])


# The item page


def test_reviewers_add_and_remove_a_tag_on_the_item_page(tagged, users, browser_client):
    item = tagged[2]
    token = login(browser_client, users["reviewer"])
    url = f"/p/demo/items/{item.id}/tags/"
    page = browser_client.get(f"/p/demo/items/{item.id}/").content.decode()
    assert f'action="{url}"' in page and "No tags." in page
    added = browser_client.post(url, {"action": "add", "tag": "Scenario:Exam"}, HTTP_X_CSRFTOKEN=token)
    assert added.status_code == 302 and added["Location"] == f"/p/demo/items/{item.id}/"
    assert tags_of(item) == ["scenario:exam"]
    page = browser_client.get(f"/p/demo/items/{item.id}/").content.decode()
    assert '<span class="badge tag">scenario:exam</span>' in page and 'aria-label="Remove tag scenario:exam"' in page
    assert AuditEvent.objects.get(action="item.tag").target == f"item {item.id}"
    bad = browser_client.post(url, {"action": "add", "tag": "<i>x</i>"}, HTTP_X_CSRFTOKEN=token)
    assert bad.status_code == 422 and "&#x27;&lt;i&gt;x&lt;/i&gt;&#x27; is not allowed" in bad.content.decode()
    assert "<i>x</i>" not in bad.content.decode()
    removed = browser_client.post(url, {"action": "remove", "tag": "scenario:exam"}, HTTP_X_CSRFTOKEN=token)
    assert removed.status_code == 302 and tags_of(item) == []


@pytest.mark.parametrize(("who", "status"), [("admin", 302), ("reviewer", 302), ("ann1", 403), ("outsider", 404)])
def test_only_staff_of_the_project_tag_an_item(tagged, users, browser_client, who, status):
    token = login(browser_client, users[who])
    url = f"/p/demo/items/{tagged[2].id}/tags/"
    response = browser_client.post(url, {"action": "add", "tag": "mine"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == status
    assert tags_of(tagged[2]) == (["mine"] if status == 302 else [])


def test_an_item_of_another_project_is_not_found(tagged, users, browser_client, make_items):
    other = project_create(creator=users["outsider"], name="Other", slug="other")
    (theirs,) = make_items(other, [{"kind": "demonstration", "prompt": "Theirs"}])
    token = login(browser_client, users["admin"])
    url = f"/p/demo/items/{theirs.id}/tags/"
    assert browser_client.post(url, {"action": "add", "tag": "x"}, HTTP_X_CSRFTOKEN=token).status_code == 404
    assert not ItemTag.objects.filter(item=theirs).exists()
