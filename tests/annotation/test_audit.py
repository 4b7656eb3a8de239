"""The audit log: each audited change writes one event with before and after; the page and the API filter it;
only admins read it."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.audit import Action
from annotation.models import AuditEvent, Membership
from annotation.project_settings import project_archive, project_unarchive, project_update
from annotation.review import adjudicate, item_set_gold, review_decide
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

PAIR = {"kind": "preference", "prompt": "Pick", "responses": [{"text": "A"}, {"text": "B"}]}


def member(project, user):
    return Membership.objects.select_related("project").get(project=project, user=user)


def one_event(action):
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1, f"{action}: {len(events)} events"
    return events[0]


def submitted(project, user):
    assignment = assignment_next(project=project, user=user)
    annotation, _ = annotation_submit(
        assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload={"response": "draft answer"}
    )
    return annotation


def test_settings_and_archive_changes_are_recorded(project, users):
    project_update(project=project, by=users["admin"], overlap=3, system_prompt="Hi")
    event = one_event(Action.PROJECT_UPDATE)
    assert (event.before, event.after) == ({"overlap": 2, "system_prompt": ""}, {"overlap": 3, "system_prompt": "Hi"})
    assert event.project_id == project.id and event.actor_name == "admin" and event.target == "demo"
    project_archive(project=project, by=users["admin"])
    project_unarchive(project=project, by=users["admin"])
    assert one_event(Action.PROJECT_ARCHIVE).before == {"archived_at": None}
    assert one_event(Action.PROJECT_UNARCHIVE).after == {"archived_at": None}


def test_reviews_record_the_status_and_the_payload_change(project, users, make_items):
    make_items(project, demo_rows(2))
    first, second = submitted(project, users["ann1"]), submitted(project, users["ann1"])
    reviewer = member(project, users["reviewer"])
    review_decide(membership=reviewer, annotation_id=first.id, decision="accept")
    event = one_event(Action.REVIEW)
    assert event.before == {"review_status": "pending"} and event.after["review_status"] == "accepted"
    assert event.target == f"annotation {first.id}" and event.actor_name == "reviewer"
    review_decide(
        membership=reviewer, annotation_id=second.id, decision="edit_accept", payload={"response": "better answer"}
    )
    edit = AuditEvent.objects.filter(action=Action.REVIEW).latest("id")
    assert edit.before["payload"] == {"response": "draft answer"}
    assert edit.after["payload"] == {"response": "better answer"}


def test_adjudication_and_gold_are_recorded(project, users, make_items):
    (item,) = make_items(project, [PAIR])
    admin = member(project, users["admin"])
    adjudicate(membership=admin, item_id=item.id, choice=0, strength="clear")
    event = one_event(Action.ADJUDICATE)
    assert event.before is None and event.after == {"choice": 0, "strength": "clear"}
    item_set_gold(membership=admin, item_id=item.id, gold={"choice": 1})
    assert (one_event(Action.GOLD_SET).before, one_event(Action.GOLD_SET).after) == (
        {"gold": None},
        {"gold": {"choice": 1}},
    )
    item_set_gold(membership=admin, item_id=item.id, gold=None)
    assert one_event(Action.GOLD_CLEAR).before == {"gold": {"choice": 1}}


def test_model_decisions_are_recorded(project, users):
    from training.models import ModelVersion
    from training.promotion import model_promote, model_reject

    base = ModelVersion.objects.create(project=project, name="base", base_model="tiny", status="champion")
    candidate = ModelVersion.objects.create(project=project, name="v1", base_model="tiny", parent=base)
    model_promote(version=candidate, user=users["admin"], reason="wins")
    event = one_event(Action.MODEL_PROMOTE)
    assert event.before == {"status": "candidate", "champion": "base"}
    assert event.after["champion"] == "v1" and event.target == "v1"
    rejected = ModelVersion.objects.create(project=project, name="v2", base_model="tiny", parent=candidate)
    model_reject(version=rejected, user=users["admin"], reason="unsafe")
    assert one_event(Action.MODEL_REJECT).after["status"] == "rejected"


def test_the_audit_page_filters_and_shows_before_and_after(project, users, browser_client):
    project_update(project=project, by=users["admin"], overlap=5)
    project_archive(project=project, by=users["admin"])
    login(browser_client, users["admin"])
    page = browser_client.get("/p/demo/audit/").content.decode()
    assert "project.update" in page and "project.archive" in page
    assert '<dt>overlap</dt><dd><span class="old">2</span> → <span class="new">5</span></dd>' in page
    only = browser_client.get("/p/demo/audit/", {"action": "project.archive"}).content.decode()
    assert "project.archive</span>" in only and "project.update</span>" not in only
    nobody = browser_client.get("/p/demo/audit/", {"actor": "ann1"}).content.decode()
    assert "No events match." in nobody
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "No events match." in browser_client.get("/p/demo/audit/", {"since": tomorrow}).content.decode()
    today = timezone.localdate().isoformat()
    assert "project.update</span>" in browser_client.get("/p/demo/audit/", {"until": today}).content.decode()
    for junk in [{"action": "drop table"}, {"since": "yesterday"}, {"until": "9999-99-99"}]:
        assert browser_client.get("/p/demo/audit/", junk).status_code == 400, junk
    assert browser_client.get("/p/demo/audit/", {"until": "9999-12-31", "page": "x"}).status_code == 200


@pytest.mark.parametrize(("who", "status"), [("reviewer", 403), ("ann1", 403), ("outsider", 404)])
def test_only_admins_read_the_audit_log(project, users, who, status, browser_client):
    login(browser_client, users[who])
    assert browser_client.get("/p/demo/audit/").status_code == status
    client = APIClient()
    client.force_authenticate(users[who])
    assert client.get("/api/v1/projects/demo/audit/").status_code == status


def test_the_api_lists_and_filters_the_audit_log(project, users):
    from annotation.projects import project_create

    project_update(project=project, by=users["admin"], overlap=3)
    project_update(project=project, by=users["admin"], overlap=4)
    other = project_create(creator=users["ann1"], name="Other", slug="other")
    project_update(project=other, by=users["ann1"], overlap=2)
    client = APIClient()
    client.force_authenticate(users["admin"])
    body = client.get("/api/v1/projects/demo/audit/", {"page_size": 1}).json()
    assert [e["after"] for e in body["results"]] == [{"overlap": 4}], "newest first, this project's only"
    rest = client.get(body["next"]).json()
    assert [e["after"] for e in rest["results"]] == [{"overlap": 3}]
    filtered = client.get("/api/v1/projects/demo/audit/", {"action": "project.archive"}).json()
    assert filtered["results"] == []
    assert client.get("/api/v1/projects/demo/audit/", {"actor": "admin"}).json()["results"][0]["actor"] == "admin"
    assert client.get("/api/v1/projects/demo/audit/", {"action": "nope"}).status_code == 400
    assert client.get("/api/v1/projects/demo/audit/", {"target": "x"}).status_code == 400
    assert client.get("/api/v1/projects/other/audit/").status_code == 404
