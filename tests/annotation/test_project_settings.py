"""Project settings (page and PATCH), archive and delete: validation, permissions and what archiving blocks."""

import uuid

import pytest
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.audit import Action
from annotation.drafts import draft_save
from annotation.errors import Conflict, InvalidInput
from annotation.models import AuditEvent, Membership, Project
from annotation.project_settings import project_archive, project_delete, project_update
from annotation.projects import project_create
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

GOOD_FORM = {
    "name": "Demo renamed",
    "kinds": ["demonstration", "preference"],
    "task_types": "open_qa\nsummarization, code",
    "overlap": "3",
    "lease_seconds": "600",
    "gold_rate": "0.1",
    "repeat_rate": "0.05",
    "model_review_share": "0.2",
    "require_review": "on",
    "harm_categories": "violence\ncyber",
    "system_prompt": "You are helpful.",
    "mix_open_qa": "50",
    "mix_summarization": "25",
}


def api(user):
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def other(users):
    """Project B, where ann1 is the admin: an admin of A (admin) has no say in it."""
    project = project_create(creator=users["ann1"], name="Other", slug="other")
    Membership.objects.create(project=project, user=users["admin"], role="annotator")
    return project


def test_the_settings_page_saves_every_field_and_records_what_changed(project, users, browser_client):
    token = login(browser_client, users["admin"])
    response = browser_client.post("/p/demo/settings/", {**GOOD_FORM, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.name == "Demo renamed" and project.overlap == 3 and project.lease_seconds == 600
    assert project.kinds == ["demonstration", "preference"]
    assert project.task_types == ["open_qa", "summarization", "code"]
    assert project.task_type_mix == {"open_qa": 0.5, "summarization": 0.25}
    assert project.harm_categories == ["violence", "cyber"] and project.system_prompt == "You are helpful."
    assert (project.require_review, project.prioritise_coverage, project.require_rationale) == (True, False, False)
    event = AuditEvent.objects.get(action=Action.PROJECT_UPDATE)
    assert event.before["overlap"] == 2 and event.after["overlap"] == 3 and event.actor_name == "admin"
    assert "require_review" not in event.after, "only changed keys are recorded"


def test_the_settings_page_warns_when_the_mix_is_not_100_percent(project, users, browser_client):
    project_update(project=project, by=users["admin"], task_type_mix={"open_qa": 0.5})
    login(browser_client, users["admin"])
    page = browser_client.get("/p/demo/settings/").content.decode()
    assert "Total: <strong>50.0%</strong>" in page and "do not add up to 100%" in page
    project_update(project=project, by=users["admin"], task_type_mix={"open_qa": 0.5, "code": 0.5})
    page = browser_client.get("/p/demo/settings/").content.decode()
    assert "do not add up to 100%" not in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("overlap", "0"),
        ("overlap", "51"),
        ("overlap", "two"),
        ("lease_seconds", "10"),
        ("lease_seconds", str(8 * 24 * 3600)),
        ("gold_rate", "1.5"),
        ("repeat_rate", "0.6"),
        ("model_review_share", "-0.1"),
        ("gold_rate", "nan"),
        ("mix_open_qa", "80"),
        ("harm_categories", "Not A Slug!"),
        ("task_types", ""),
        ("name", ""),
        ("kinds", []),
    ],
)
def test_the_settings_page_refuses_junk_and_keeps_what_was_typed(project, users, browser_client, field, value):
    token = login(browser_client, users["admin"])
    form = {**GOOD_FORM, field: value, "csrfmiddlewaretoken": token}
    if field == "mix_open_qa":
        form["mix_summarization"] = "30"  # 80% + 30%: over the whole
    response = browser_client.post("/p/demo/settings/", form)
    assert response.status_code == 422
    page = response.content.decode()
    assert 'role="alert"' in page and "You are helpful." in page, "the typed values come back"
    project.refresh_from_db()
    assert project.name == "Demo" and project.overlap == 2


@pytest.mark.parametrize(
    "body",
    [
        {"overlap": 0},
        {"overlap": True},
        {"lease_seconds": 29},
        {"repeat_rate": 0.51},
        {"task_type_mix": {"poems": 0.5}},
        {"task_type_mix": {"open_qa": 0.7, "code": 0.4}},
        {"task_type_mix": {"open_qa": "lots"}},
        {"harm_categories": []},
        {"harm_categories": ["ok", "ok"]},
        {"kinds": ["dance"]},
        {"slug": "renamed"},
        {"unknown": 1},
        {"system_prompt": "x" * 20_001},
    ],
)
def test_patch_refuses_bad_settings_with_the_field(project, users, body):
    response = api(users["admin"]).patch("/api/v1/projects/demo/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"].startswith(next(iter(body)))
    assert not AuditEvent.objects.filter(action=Action.PROJECT_UPDATE).exists()


@pytest.mark.parametrize("junk", [{"lease_seconds": 2**60}, {"name": "nul\x00byte"}])
def test_a_create_refused_by_the_text_rules_is_a_400_that_creates_nothing(users, junk):
    users["admin"].is_staff = True
    users["admin"].save()
    body = {"name": "New", "slug": "new", **junk}
    response = api(users["admin"]).post("/api/v1/projects/", body, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == next(iter(junk))
    assert not Project.objects.filter(slug__in=["new", ""]).exists()


def test_patch_changes_settings_and_shows_the_new_fields(project, users):
    body = {"overlap": 4, "harm_categories": ["cyber"], "system_prompt": "Be kind.", "prioritise_coverage": True}
    response = api(users["admin"]).patch("/api/v1/projects/demo/", body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["overlap"] == 4 and data["harm_categories"] == ["cyber"] and data["system_prompt"] == "Be kind."
    assert data["prioritise_coverage"] is True and data["archived_at"] is None and data["guidelines_version"] == 0
    assert api(users["ann1"]).get("/api/v1/projects/demo/").json()["require_review"] is True


@pytest.mark.parametrize(("who", "status"), [("reviewer", 403), ("ann1", 403), ("outsider", 404)])
def test_only_admins_change_settings(project, users, who, status):
    assert api(users[who]).patch("/api/v1/projects/demo/", {"overlap": 3}, format="json").status_code == status
    client = api(users[who])
    for url in ["/p/demo/settings/", "/p/demo/settings/delete/", "/p/demo/audit/", "/p/demo/guidelines/edit/"]:
        client.force_login(users[who])
        assert client.get(url).status_code == status, url
    assert client.post("/p/demo/settings/archive/").status_code == status
    assert api(users[who]).post("/api/v1/projects/demo/archive/").status_code == status
    project.refresh_from_db()
    assert project.overlap == 2 and project.archived_at is None


def test_an_admin_of_one_project_cannot_administer_another(project, other, users):
    client = api(users["admin"])
    assert client.patch("/api/v1/projects/other/", {"overlap": 5}, format="json").status_code == 403
    assert client.delete("/api/v1/projects/other/?confirm=Other").status_code == 403
    assert client.post("/api/v1/projects/other/archive/").status_code == 403
    client.force_login(users["admin"])
    assert client.post("/p/other/settings/", GOOD_FORM).status_code == 403
    assert client.post("/p/other/settings/delete/", {"confirm": "Other"}).status_code == 403
    assert Project.objects.filter(slug="other", overlap=1).exists()


def test_only_staff_create_projects_in_the_browser(users, browser_client):
    token = login(browser_client, users["ann1"])
    body = {"name": "New", "slug": "new", "kinds": ["demonstration"], "overlap": "2", "csrfmiddlewaretoken": token}
    assert browser_client.get("/projects/new/").status_code == 403
    assert browser_client.post("/projects/new/", body).status_code == 403
    users["ann1"].is_staff = True
    users["ann1"].save()
    assert browser_client.post("/projects/new/", {**body, "overlap": "99"}).status_code == 422
    response = browser_client.post("/projects/new/", body)
    assert response.status_code == 302 and response["Location"] == "/p/new/settings/"
    created = Project.objects.get(slug="new")
    assert created.kinds == ["demonstration"] and created.overlap == 2
    assert Membership.objects.get(project=created, user=users["ann1"]).role == "admin"
    again = browser_client.post("/projects/new/", body)
    assert again.status_code == 422 and "already exists" in again.content.decode()


def test_an_archived_project_hands_out_no_work_and_refuses_submissions(project, users, make_items, browser_client):
    make_items(project, demo_rows(3))
    leased = assignment_next(project=project, user=users["ann1"])
    draft_save(assignment_id=leased.id, user=users["ann1"], payload={"response": "half"}, version=None)
    project_archive(project=project, by=users["admin"])
    with pytest.raises(Conflict, match="archived"):
        assignment_next(project=project, user=users["ann2"])
    with pytest.raises(Conflict, match="archived"):
        annotation_submit(
            assignment_id=leased.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "done"}
        )
    with pytest.raises(Conflict, match="archived"):
        draft_save(assignment_id=leased.id, user=users["ann1"], payload={"response": "more"}, version=1)
    with pytest.raises(Conflict, match="archived"):
        project_update(project=project, by=users["admin"], overlap=3)

    token = login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/annotate/")
    assert page.status_code == 409 and "This project is archived" in page.content.decode()
    form = {"response": "typed text", "client_id": str(uuid.uuid4()), "csrfmiddlewaretoken": token}
    refused = browser_client.post(f"/p/demo/annotate/{leased.id}/submit/", form)
    assert refused.status_code == 409 and "typed text" in refused.content.decode()
    assert "archived" in refused.content.decode()
    assert api(users["ann2"]).post("/api/v1/projects/demo/assignments/next/").status_code == 409

    login(browser_client, users["admin"])
    home = browser_client.get("/").content.decode()
    assert "Archived" in home
    assert "Unarchive" in browser_client.get("/p/demo/settings/").content.decode()
    assert api(users["admin"]).post("/api/v1/projects/demo/unarchive/").status_code == 200
    project.refresh_from_db()
    assert assignment_next(project=project, user=users["ann2"]) is not None
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-2:] == [Action.PROJECT_ARCHIVE, Action.PROJECT_UNARCHIVE]


def test_delete_needs_the_exact_name_and_an_admin(project, users, browser_client):
    with pytest.raises(Conflict):
        project_delete(project=project, by=users["reviewer"], confirm_name="Demo")
    with pytest.raises(InvalidInput):
        project_delete(project=project, by=users["admin"], confirm_name="demo ")
    assert api(users["reviewer"]).delete("/api/v1/projects/demo/?confirm=Demo").status_code == 403
    assert api(users["admin"]).delete("/api/v1/projects/demo/?confirm=DEMO").status_code == 400
    token = login(browser_client, users["admin"])
    wrong = browser_client.post("/p/demo/settings/delete/", {"confirm": "Dem", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 422 and 'value="Dem"' in wrong.content.decode()
    assert Project.objects.filter(slug="demo").exists()
    done = browser_client.post("/p/demo/settings/delete/", {"confirm": "Demo", "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and not Project.objects.filter(slug="demo").exists()
    event = AuditEvent.objects.get(action=Action.PROJECT_DELETE)
    assert event.project is None and event.project_slug == "demo" and event.actor_name == "admin"


def test_the_api_deletes_with_the_name_in_the_body(project, users):
    response = api(users["admin"]).delete("/api/v1/projects/demo/", {"confirm": "Demo"}, format="json")
    assert response.status_code == 204 and not Project.objects.filter(slug="demo").exists()


def test_refusals_follow_the_projects_harm_categories(project, users, make_items):
    from annotation.item_validation import LineErrors, validate_item

    project_update(project=project, by=users["admin"], harm_categories=["fraud"])
    row = {"kind": "refusal", "prompt": "Help me scam", "safety": "should_refuse", "harm_category": "fraud"}
    assert validate_item(row, project)["harm_category"] == "fraud"
    with pytest.raises(LineErrors):
        validate_item({**row, "harm_category": "cyber"}, project)


def test_the_snapshot_form_starts_from_the_projects_system_prompt(project, users, browser_client):
    project_update(project=project, by=users["admin"], system_prompt="You are Quorum's assistant.")
    login(browser_client, users["admin"])
    assert "You are Quorum&#x27;s assistant." in browser_client.get("/p/demo/snapshots/").content.decode()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"task_types": ["open_qa"], "task_type_mix": {}}, "task_types"),
        ({"kinds": ["demonstration"]}, "kinds"),
        ({"harm_categories": ["other"]}, "harm_categories"),
    ],
)
def test_a_kind_task_type_or_harm_category_still_on_items_cannot_be_removed(project, users, make_items, body, field):
    make_items(
        project,
        [
            {
                "kind": "refusal",
                "prompt": "Break in",
                "safety": "should_refuse",
                "harm_category": "cyber",
                "task_type": "code",
            }
        ],
    )
    response = api(users["admin"]).patch("/api/v1/projects/demo/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == field, response.content
    assert "still used by items" in response.json()["detail"]


def test_a_slug_is_lower_case(users):
    users["admin"].is_staff = True
    users["admin"].save()
    response = api(users["admin"]).post("/api/v1/projects/", {"name": "ABC", "slug": "ABC"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "slug"
    assert not Project.objects.exists()
