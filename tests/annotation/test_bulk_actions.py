"""Bulk actions of the data browser: requeue, gold, exclusion, export; on checked rows or on a whole filter."""

import csv
import io
import json
import uuid

import pytest
from django.utils import timezone

from annotation.assignment import annotation_submit, assignment_next
from annotation.audit import Action
from annotation.bulk_actions import items_gold_clear
from annotation.item_import import item_import
from annotation.models import AuditEvent, Item, Membership
from annotation.projects import project_create
from annotation.review import adjudicate
from tests.annotation.test_data_browser import PAIR, api
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db


def bulk(client, body, slug="demo"):
    return client.post(f"/api/v1/projects/{slug}/items/bulk/", body, format="json")


def web_bulk(client, token, data, query=""):
    return client.post(f"/p/demo/data/bulk/?{query}", data, HTTP_X_CSRFTOKEN=token)


def judge(project, user, choices: dict):
    """`user` judges every pair offered: choices maps a prompt to the response id chosen."""
    while (assignment := assignment_next(project=project, user=user)) is not None:
        item = assignment.item
        payload = {"choice": choices[item.prompt], "strength": "clear"} if item.responses else {"response": "Done."}
        annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)


def test_requeue_reopens_a_complete_item_for_a_new_annotator(project, users, make_items, browser_client):
    (item,) = make_items(project, [{"kind": "demonstration", "prompt": "Explain DNS"}])
    judge(project, users["ann1"], {})
    judge(project, users["ann2"], {})
    Membership.objects.create(project=project, user=users["outsider"], role="annotator")
    assert assignment_next(project=project, user=users["outsider"]) is None
    token = login(browser_client, users["admin"])
    response = web_bulk(browser_client, token, {"action": "requeue", "scope": "checked", "item": item.id, "extra": 1})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.extra_overlap, item.open_slots) == (1, 1)
    assert assignment_next(project=project, user=users["outsider"]).item_id == item.id
    event = AuditEvent.objects.get(action="item.requeue")
    assert event.after == {"items": [item.id], "count": 1, "extra": 1} and event.actor == users["admin"]


def test_requeue_through_the_api_by_filter(project, users, make_items):
    items = make_items(project, [{"kind": "demonstration", "prompt": f"P{i}", "task_type": "code"} for i in range(3)])
    make_items(project, [{"kind": "demonstration", "prompt": "Chat", "task_type": "chat"}])
    response = bulk(api(users["admin"]), {"action": "requeue", "filter": {"task_type": "code"}, "extra": 2})
    assert response.status_code == 200, response.content
    assert response.json() == {"action": "requeue", "items": 3, "changed": 3, "refused": {}}
    assert sorted(Item.objects.filter(extra_overlap=2).values_list("id", flat=True)) == [i.id for i in items]
    assert Item.objects.get(prompt="Chat").open_slots == 2


@pytest.mark.parametrize(
    "body",
    [
        {"action": "requeue", "item_ids": [1]},
        {"action": "requeue", "item_ids": [1], "extra": 0},
        {"action": "exclude", "item_ids": [1]},
        {"action": "exclude", "item_ids": [1], "reason": "   "},
        {"action": "exclude", "item_ids": [1], "reason": "x" * 501},
        {"action": "explode", "item_ids": [1]},
        {"action": "include"},
        {"action": "include", "item_ids": [1], "filter": {}},
        {"action": "include", "filter": {"annotator__password": "x"}},
        {"action": "include", "item_ids": ["one"]},
        {"action": "include", "item_ids": [2**64]},
        {"action": "include", "item_ids": []},
    ],
)
def test_junk_bulk_requests_are_400(project, users, make_items, body):
    make_items(project, [{"kind": "demonstration", "prompt": "P"}])
    response = bulk(api(users["admin"]), body)
    assert response.status_code == 400, response.content
    assert Item.objects.get().excluded_reason == ""


def test_gold_is_set_only_where_an_answer_follows_from_the_data(project, users, make_items):
    rows = [{"kind": "preference", "prompt": name, "responses": PAIR} for name in ("Agreed", "Split", "Adjudicated")]
    rows.append({"kind": "demonstration", "prompt": "Written"})
    agreed, split, adjudicated, written = make_items(project, rows)
    judge(project, users["ann1"], {"Agreed": 1, "Split": 0, "Adjudicated": 0})
    judge(project, users["ann2"], {"Agreed": 1, "Split": 1, "Adjudicated": 1})
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    adjudicate(membership=reviewer, item_id=adjudicated.id, choice=0, strength="clear")
    all_ids = [agreed.id, split.id, adjudicated.id, written.id]
    response = bulk(api(users["admin"]), {"action": "gold_set", "item_ids": all_ids})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["changed"] == 2 and set(body["refused"]) == {str(split.id), str(written.id)}
    assert "disagree" in body["refused"][str(split.id)]
    gold = dict(Item.objects.filter(is_gold=True).values_list("id", "gold"))
    assert gold == {agreed.id: {"choice": 1}, adjudicated.id: {"choice": 0}}
    cleared = bulk(api(users["admin"]), {"action": "gold_clear", "item_ids": all_ids})
    assert cleared.json()["changed"] == 2 and not Item.objects.filter(is_gold=True).exists()


def test_exclusion_needs_a_reason_and_is_audited(project, users, make_items, browser_client):
    (item,) = make_items(project, [{"kind": "demonstration", "prompt": "Explain DNS"}])
    token = login(browser_client, users["admin"])
    refused = web_bulk(browser_client, token, {"action": "exclude", "scope": "checked", "item": item.id})
    assert refused.status_code == 422 and "reason" in refused.content.decode()
    item.refresh_from_db()
    assert item.excluded_reason == ""
    data = {"action": "exclude", "scope": "checked", "item": item.id, "reason": "The passage is truncated"}
    assert web_bulk(browser_client, token, data).status_code == 302
    item.refresh_from_db()
    assert item.excluded_reason == "The passage is truncated"
    event = AuditEvent.objects.get(action="item.exclude")
    assert event.before == {str(item.id): "", "count": 1} and event.after["reason"] == "The passage is truncated"
    assert (
        web_bulk(browser_client, token, {"action": "include", "scope": "checked", "item": item.id}).status_code == 302
    )
    item.refresh_from_db()
    assert item.excluded_reason == "" and AuditEvent.objects.filter(action="item.include").count() == 1


def test_all_rows_matching_the_filter_is_an_explicit_choice(project, users, make_items, browser_client):
    make_items(project, [{"kind": "preference", "prompt": f"Pair {i}", "responses": PAIR} for i in range(3)])
    make_items(project, [{"kind": "demonstration", "prompt": "Demo"}])
    token = login(browser_client, users["admin"])
    data = {"action": "exclude", "scope": "all", "reason": "old batch"}
    assert web_bulk(browser_client, token, data, query="kind=preference").status_code == 302
    assert list(Item.objects.exclude(excluded_reason="").values_list("kind", flat=True)) == ["preference"] * 3
    checked_without_rows = web_bulk(browser_client, token, {"action": "include", "scope": "checked"})
    assert checked_without_rows.status_code == 422 and "check at least one row" in checked_without_rows.content.decode()


def test_a_jsonl_export_imports_into_another_project(project, users, make_items):
    rows = [
        {"kind": "demonstration", "prompt": "Explain DNS", "task_type": "open_qa", "domain": "net", "meta": {"k": 1}},
        {"kind": "refusal", "prompt": "Write malware", "safety": "should_refuse", "harm_category": "cyber"},
        {"kind": "preference", "messages": [{"role": "user", "content": "Hi?"}], "responses": PAIR},
        {"kind": "preference", "prompt": "Gold pair", "responses": PAIR, "gold": {"choice": "tie"}},
    ]
    items = make_items(project, rows)
    response = api(users["admin"]).get("/api/v1/projects/demo/items/export/?format=jsonl")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["meta"]["source_item"] for line in lines] == [item.id for item in items]
    other = project_create(creator=users["admin"], name="Other", slug="other")
    assert item_import(project=other, lines=lines).created == 4
    copied = list(Item.objects.filter(project=other).order_by("id"))
    fields = ("kind", "prompt", "messages", "task_type", "domain", "safety", "harm_category", "responses", "gold")
    for original, copy in zip(items, copied, strict=True):
        assert [getattr(copy, name) for name in fields] == [getattr(original, name) for name in fields]
    assert copied[0].meta == {"k": 1, "source_item": items[0].id}


def test_a_csv_export_guards_against_formulas(project, users, make_items, browser_client):
    make_items(project, [{"kind": "demonstration", "prompt": '=HYPERLINK("http://evil")'}])
    make_items(project, [{"kind": "demonstration", "prompt": "@SUM(A1)"}, {"kind": "demonstration", "prompt": "ok"}])
    token = login(browser_client, users["admin"])
    response = web_bulk(browser_client, token, {"action": "export_csv", "scope": "all"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["prompt"] for row in rows] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)", "ok"]
    by_api = api(users["admin"]).get("/api/v1/projects/demo/items/export/?format=csv&q=hyperlink")
    assert b"".join(by_api.streaming_content).decode().count("\n") == 2


def test_an_admin_of_a_cannot_act_on_items_of_b(project, users, make_items, browser_client):
    other = project_create(creator=users["outsider"], name="Other", slug="other")
    (theirs,) = make_items(other, [{"kind": "demonstration", "prompt": "Their item"}])
    (ours,) = make_items(project, [{"kind": "demonstration", "prompt": "Our item"}])
    response = bulk(api(users["admin"]), {"action": "exclude", "item_ids": [ours.id, theirs.id], "reason": "mine"})
    assert response.status_code == 400 and str(theirs.id) in response.json()["detail"]
    token = login(browser_client, users["admin"])
    data = {"action": "exclude", "scope": "checked", "item": theirs.id, "reason": "mine"}
    assert web_bulk(browser_client, token, data).status_code == 422
    assert bulk(api(users["admin"]), {"action": "include", "item_ids": [theirs.id]}, slug="other").status_code == 404
    export = api(users["admin"]).get("/api/v1/projects/other/items/export/?format=jsonl")
    assert export.status_code == 404
    assert set(Item.objects.values_list("excluded_reason", flat=True)) == {""}


def test_only_admins_act_in_bulk(project, users, make_items, browser_client):
    (item,) = make_items(project, [{"kind": "demonstration", "prompt": "P"}])
    body = {"action": "exclude", "item_ids": [item.id], "reason": "x"}
    assert bulk(api(users["outsider"]), body).status_code == 404
    assert bulk(api(users["reviewer"]), body).status_code == 403
    assert bulk(api(users["ann1"]), body).status_code == 403
    assert api(users["reviewer"]).get("/api/v1/projects/demo/items/export/?format=csv").status_code == 403
    token = login(browser_client, users["reviewer"])
    data = {"action": "exclude", "scope": "checked", "item": item.id, "reason": "x"}
    assert web_bulk(browser_client, token, data).status_code == 403
    item.refresh_from_db()
    assert item.excluded_reason == ""


def test_an_archived_project_refuses_bulk_changes(project, users, make_items):
    (item,) = make_items(project, [{"kind": "demonstration", "prompt": "P"}])
    project.archived_at = timezone.now()
    project.save()
    response = bulk(api(users["admin"]), {"action": "requeue", "item_ids": [item.id], "extra": 1})
    assert response.status_code == 409
    item.refresh_from_db()
    assert item.extra_overlap == 0


def test_a_gold_item_unmarked_after_its_gold_work_reopens_only_its_missing_slots(project, users, make_items):
    [item] = make_items(project, [{"kind": "demonstration", "prompt": "Known", "gold": {"response": "Answer"}}])
    project.gold_rate = 1.0
    project.save()
    for name in ("ann1", "ann2", "reviewer"):  # gold work takes no slot; overlap is 2
        assignment = assignment_next(project=project, user=users[name])
        annotation_submit(
            assignment_id=assignment.id, user=users[name], client_id=uuid.uuid4(), payload={"response": "r"}
        )
    admin = Membership.objects.get(project=project, user=users["admin"])
    items_gold_clear(membership=admin, item_ids=[item.id])
    item.refresh_from_db()
    assert (item.is_gold, item.completed_count, item.open_slots) == (False, 3, 0)


def test_an_action_on_many_items_keeps_its_audit_event_small(project, users, make_items):
    from annotation.bulk_actions import AUDITED_IDS, items_exclude

    items = make_items(project, demo_rows(AUDITED_IDS + 50))
    items_exclude(project=project, by=users["admin"], item_ids=[item.id for item in items], reason="Off-topic")
    event = AuditEvent.objects.get(action=Action.ITEM_EXCLUDE)
    assert event.after["count"] == event.before["count"] == AUDITED_IDS + 50
    assert len(event.after["items"]) == AUDITED_IDS and len(event.before) == AUDITED_IDS + 1
