"""Versioned guidelines: the editor, its sanitised preview, the version each annotation was made under, and the
"guidelines changed" notice that a member sees once."""

import uuid

import pytest
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.audit import Action
from annotation.authoring import demonstration_author
from annotation.errors import InvalidInput
from annotation.guidelines import MAX_GUIDELINES_CHARS, guidelines_diff, guidelines_notice, guidelines_save
from annotation.models import AuditEvent, GuidelineVersion, Membership
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

XSS = "# Rules\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) <img src=x onerror=alert(3)>"


def test_each_save_is_a_new_version_and_unchanged_text_is_refused(project, users):
    first = guidelines_save(project=project, by=users["admin"], text="Be kind.\nBe brief.", note="start")
    second = guidelines_save(project=project, by=users["admin"], text="Be kind.\nBe precise.")
    assert (first.number, second.number) == (1, 2)
    project.refresh_from_db()
    assert project.guidelines == "Be kind.\nBe precise." and project.guidelines_version == 2
    with pytest.raises(InvalidInput, match="unchanged"):
        guidelines_save(project=project, by=users["admin"], text="Be kind.\nBe precise.")
    with pytest.raises(InvalidInput, match="over"):
        guidelines_save(project=project, by=users["admin"], text="x" * (MAX_GUIDELINES_CHARS + 1))
    assert guidelines_diff(project, 1) == [(" ", "Be kind."), ("-", "Be brief."), ("+", "Be precise.")]
    events = AuditEvent.objects.filter(action=Action.GUIDELINES_UPDATE).order_by("id")
    assert [(e.before["version"], e.after["version"]) for e in events] == [(0, 1), (1, 2)]


def test_text_from_before_versioning_becomes_version_zero(users):
    from annotation.projects import project_create

    project = project_create(creator=users["admin"], name="Old", slug="old", guidelines="Old rules.")
    guidelines_save(project=project, by=users["admin"], text="New rules.")
    assert GuidelineVersion.objects.get(project=project, number=0).text == "Old rules."
    assert guidelines_diff(project, 0) == [("-", "Old rules."), ("+", "New rules.")]


def test_the_preview_is_sanitised(project, users, browser_client):
    token = login(browser_client, users["admin"])
    response = browser_client.post("/p/demo/guidelines/preview/", {"text": XSS}, HTTP_X_CSRFTOKEN=token)
    html = response.content.decode()
    assert response.status_code == 200 and "<h1>Rules</h1>" in html
    assert "<script" not in html and 'href="javascript' not in html and "<img" not in html
    # Without JavaScript the editor's Preview button posts the form and shows the same, without saving.
    page = browser_client.post(
        "/p/demo/guidelines/edit/", {"text": XSS, "action": "preview", "csrfmiddlewaretoken": token}
    )
    assert page.status_code == 200 and "<h1>Rules</h1>" in page.content.decode()
    assert "<script>alert" not in page.content.decode()
    project.refresh_from_db()
    assert project.guidelines_version == 0


def test_the_editor_saves_and_lists_the_history_and_members_read_it(project, users, browser_client):
    token = login(browser_client, users["admin"])
    saved = browser_client.post(
        "/p/demo/guidelines/edit/", {"text": XSS, "note": "first cut", "csrfmiddlewaretoken": token}
    )
    assert saved.status_code == 302
    browser_client.post("/p/demo/guidelines/edit/", {"text": "# Rules\n\nNew.", "csrfmiddlewaretoken": token})
    history = browser_client.get("/p/demo/guidelines/edit/").content.decode()
    assert "first cut" in history and "v2" in history
    changes = browser_client.get("/p/demo/guidelines/v2/").content.decode()
    assert "+ New." in changes
    assert browser_client.get("/p/demo/guidelines/v9/").status_code == 404
    same = browser_client.post("/p/demo/guidelines/edit/", {"text": "# Rules\n\nNew.", "csrfmiddlewaretoken": token})
    assert same.status_code == 422 and "unchanged" in same.content.decode()

    login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/guidelines/")
    assert page.status_code == 200 and "New." in page.content.decode() and "v2" in page.content.decode()
    assert browser_client.get("/p/demo/guidelines/edit/").status_code == 403
    login(browser_client, users["outsider"])
    assert browser_client.get("/p/demo/guidelines/").status_code == 404


def test_the_api_reads_and_writes_guidelines(project, users):
    admin, annotator = APIClient(), APIClient()
    admin.force_authenticate(users["admin"])
    annotator.force_authenticate(users["ann1"])
    created = admin.post("/api/v1/projects/demo/guidelines/", {"text": "Rule one.", "note": "n"}, format="json")
    assert created.status_code == 201 and created.json()["version"] == 1
    assert annotator.get("/api/v1/projects/demo/guidelines/").json() == {"text": "Rule one.", "note": "", "version": 1}
    assert annotator.post("/api/v1/projects/demo/guidelines/", {"text": "mine"}, format="json").status_code == 403
    assert admin.post("/api/v1/projects/demo/guidelines/", {"text": "Rule one."}, format="json").status_code == 400
    outsider = APIClient()
    outsider.force_authenticate(users["outsider"])
    assert outsider.get("/api/v1/projects/demo/guidelines/").status_code == 404


def test_each_annotation_records_the_guideline_version(project, users, make_items):
    make_items(project, demo_rows(2))
    guidelines_save(project=project, by=users["admin"], text="v1")
    first = assignment_next(project=project, user=users["ann1"])
    annotation, _ = annotation_submit(
        assignment_id=first.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "a"}
    )
    guidelines_save(project=project, by=users["admin"], text="v2")
    project.refresh_from_db()
    second = assignment_next(project=project, user=users["ann2"])
    later, _ = annotation_submit(
        assignment_id=second.id, user=users["ann2"], client_id=uuid.uuid4(), payload={"response": "b"}
    )
    authored = demonstration_author(
        project=project,
        user=users["ann1"],
        instruction="Write a haiku",
        response="An old pond",
        task_type="open_qa",
        client_id=uuid.uuid4(),
    )
    assert (annotation.guideline_version, later.guideline_version) == (1, 2)
    assert authored.annotations[0].guideline_version == 2


def test_the_notice_shows_the_diff_once(project, users):
    guidelines_save(project=project, by=users["admin"], text="Be kind.")
    membership = Membership.objects.select_related("project").get(project=project, user=users["ann1"])
    first = guidelines_notice(membership)
    assert first.version == 1 and ("+", "Be kind.") in first.rows
    membership = Membership.objects.select_related("project").get(id=membership.id)
    assert guidelines_notice(membership) is None
    guidelines_save(project=project, by=users["admin"], text="Be kind.\nCite sources.")
    membership = Membership.objects.select_related("project").get(id=membership.id)
    notice = guidelines_notice(membership)
    assert (notice.since, notice.version) == (1, 2) and notice.rows == [(" ", "Be kind."), ("+", "Cite sources.")]


def test_the_workspace_shows_the_notice_once_and_a_guidelines_button(project, users, make_items, browser_client):
    make_items(project, demo_rows(2))
    guidelines_save(project=project, by=users["admin"], text="Always cite sources.")
    login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert "Guidelines changed (v1)" in page and "+ Always cite sources." in page
    assert 'href="/p/demo/guidelines/" data-open-guidelines' in page, "a visible button that works without JS"
    again = browser_client.get("/p/demo/annotate/").content.decode()
    assert "Guidelines changed" not in again and "data-open-guidelines" in again
