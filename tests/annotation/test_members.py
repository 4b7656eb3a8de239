"""Members: adding, re-roling and removing them (web and API), what removal does to work, and who may do it."""

import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.audit import Action
from annotation.errors import Conflict
from annotation.members import member_remove, member_role_set
from annotation.models import Annotation, Assignment, AuditEvent, Item, Membership
from annotation.projects import project_create
from annotation.selectors import NO_LONGER_MEMBER
from tests.conftest import api_key, demo_rows, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(users, browser_client):
    token = login(browser_client, users["admin"])
    return browser_client, token


@pytest.fixture
def other_project(django_user_model):
    """Project B, administered by someone else."""
    owner = django_user_model.objects.create_user(username="owner-b", password="pw")
    return project_create(creator=owner, name="B", slug="b")


def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
    return client


def events(action):
    return list(AuditEvent.objects.filter(action=action).values_list("target", "before", "after"))


# --- pages and permissions ---

WEB = [
    ("get", "/p/{slug}/members/", {}),
    ("post", "/p/{slug}/members/add/", {"username": "outsider", "role": "annotator"}),
    ("post", "/p/{slug}/members/ann2/role/", {"role": "reviewer"}),
    ("get", "/p/{slug}/members/ann2/remove/", {}),
    ("post", "/p/{slug}/members/ann2/remove/", {}),
    ("post", "/p/{slug}/invites/", {"role": "annotator"}),
]


@pytest.mark.parametrize(("method", "url", "data"), WEB, ids=[f"{m} {u}" for m, u, _ in WEB])
@pytest.mark.parametrize(("who", "status"), [("reviewer", 403), ("ann1", 403), ("outsider", 404)])
def test_only_the_projects_admins_reach_the_member_pages(project, users, method, url, data, who, status):
    client = Client()
    client.force_login(users[who])
    response = getattr(client, method)(url.format(slug="demo"), data)
    assert response.status_code == status
    assert Membership.objects.get(project=project, user=users["ann2"]).role == "annotator"
    assert not Membership.objects.filter(user=users["outsider"]).exists()


@pytest.mark.parametrize(("method", "url", "data"), WEB, ids=[f"{m} {u}" for m, u, _ in WEB])
def test_an_admin_of_project_a_cannot_administer_project_b(project, other_project, users, method, url, data):
    client = Client()
    client.force_login(users["admin"])
    Membership.objects.create(project=other_project, user=users["ann2"], role="annotator")
    response = getattr(client, method)(url.format(slug="b"), data)
    assert response.status_code == 404
    assert Membership.objects.get(project=other_project, user=users["ann2"]).role == "annotator"
    assert other_project.invites.count() == 0


def test_the_members_page_lists_members_with_their_work(project, users, make_items, admin_web):
    client, _ = admin_web
    make_items(project, demo_rows(2))
    assignment_next(project=project, user=users["ann1"])
    page = client.get("/p/demo/members/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("admin", "reviewer", "ann1", "ann2"):
        assert f'id="member-{name}"' in html
    assert "/p/demo/members/ann1/remove/" in html
    assert "Create invite link" in html


def test_anonymous_visitors_are_sent_to_log_in(project):
    response = Client().get("/p/demo/members/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- add ---


def test_an_admin_adds_an_existing_user_with_a_role(project, users, admin_web):
    client, token = admin_web
    response = client.post("/p/demo/members/add/", {"username": "outsider", "role": "reviewer"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=users["outsider"]).role == "reviewer"
    assert events(Action.MEMBER_ADD) == [("outsider", None, {"role": "reviewer"})]


def test_adding_needs_the_csrf_token(project, users, admin_web):
    client, _ = admin_web
    response = client.post("/p/demo/members/add/", {"username": "outsider", "role": "reviewer"})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=users["outsider"]).exists()


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"username": "nobody", "role": "annotator"}, 422, "No user named &#x27;nobody&#x27;"),
        ({"username": "", "role": "annotator"}, 422, "Enter a username."),
        ({"username": "outsider", "role": "owner"}, 422, "owner is not one of the available choices"),
        ({"username": "ann1", "role": "reviewer"}, 409, "ann1 is already a member (as annotator)"),
        ({"username": "x" * 151, "role": "annotator"}, 422, "at most 150 characters"),
    ],
)
def test_a_bad_addition_is_refused_with_the_typed_username_kept(project, users, admin_web, data, status, message):
    client, token = admin_web
    response = client.post("/p/demo/members/add/", data, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == status
    html = response.content.decode()
    assert message in html
    assert f'value="{data["username"]}"' in html
    assert Membership.objects.get(project=project, user=users["ann1"]).role == "annotator"
    assert not AuditEvent.objects.filter(action=Action.MEMBER_ADD).exists()


# --- roles ---


def test_an_admin_changes_a_role_and_it_is_audited(project, users, admin_web):
    client, token = admin_web
    response = client.post("/p/demo/members/ann2/role/", {"role": "reviewer"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=users["ann2"]).role == "reviewer"
    assert events(Action.MEMBER_ROLE) == [("ann2", {"role": "annotator"}, {"role": "reviewer"})]


def test_the_last_admin_cannot_demote_themself(project, users, admin_web):
    client, token = admin_web
    response = client.post("/p/demo/members/admin/role/", {"role": "annotator"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 409
    assert "last admin" in response.content.decode()
    assert Membership.objects.get(project=project, user=users["admin"]).role == "admin"


def test_an_admin_can_step_down_once_another_admin_exists(project, users):
    member_role_set(project=project, by=users["admin"], username="reviewer", role="admin")
    member_role_set(project=project, by=users["admin"], username="admin", role="annotator")
    assert Membership.objects.get(project=project, user=users["admin"]).role == "annotator"
    with pytest.raises(Conflict):
        member_role_set(project=project, by=users["reviewer"], username="reviewer", role="annotator")


def test_a_junk_role_is_refused(project, users, admin_web):
    client, token = admin_web
    response = client.post("/p/demo/members/ann2/role/", {"role": "god\x00"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 422
    assert Membership.objects.get(project=project, user=users["ann2"]).role == "annotator"


def test_changing_the_role_of_a_non_member_is_404(project, admin_web):
    client, token = admin_web
    response = client.post("/p/demo/members/outsider/role/", {"role": "reviewer"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 404


# --- remove ---


@pytest.fixture
def ann1_working(project, users, make_items):
    """ann1 has one finished annotation and one open lease."""
    make_items(project, demo_rows(3))
    done = assignment_next(project=project, user=users["ann1"])
    annotation_submit(assignment_id=done.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "a"})
    live = assignment_next(project=project, user=users["ann1"])
    return done, live


def test_the_confirmation_page_says_what_happens_to_their_work(project, users, ann1_working, admin_web):
    client, _ = admin_web
    page = client.get("/p/demo/members/ann1/remove/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Their finished work stays: 1 submitted annotation" in html
    assert "Their 1 open task is released at once" in html
    assert Membership.objects.filter(project=project, user=users["ann1"]).exists()


def test_removal_keeps_finished_work_and_releases_open_leases_at_once(project, users, ann1_working, admin_web):
    done, live = ann1_working
    client, token = admin_web
    slots_before = Item.objects.get(id=live.item_id).open_slots
    response = client.post("/p/demo/members/ann1/remove/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302 and response["Location"] == "/p/demo/members/"
    assert not Membership.objects.filter(project=project, user=users["ann1"]).exists()
    assert Annotation.objects.filter(assignment=done).exists()
    live.refresh_from_db()
    assert live.status == Assignment.Status.EXPIRED
    assert Item.objects.get(id=live.item_id).open_slots == slots_before + 1
    assert events(Action.MEMBER_REMOVE) == [("ann1", {"role": "annotator"}, {"leases_released": 1})]
    assert "finished work stays; 1 open task went back" in client.get("/p/demo/members/").content.decode()


def test_the_last_admin_cannot_remove_themself_but_one_of_two_can(project, users, admin_web):
    client, token = admin_web
    response = client.post("/p/demo/members/admin/remove/", HTTP_X_CSRFTOKEN=token, follow=True)
    assert "last admin" in response.content.decode()
    assert Membership.objects.filter(project=project, user=users["admin"]).exists()
    member_role_set(project=project, by=users["admin"], username="reviewer", role="admin")
    member_remove(project=project, by=users["admin"], username="admin")
    assert not Membership.objects.filter(project=project, user=users["admin"]).exists()


# --- a removed member's open page ---


@pytest.fixture
def removed_ann1(project, users, make_items):
    make_items(project, demo_rows(2))
    live = assignment_next(project=project, user=users["ann1"])
    client = Client(enforce_csrf_checks=True)
    token = login(client, users["ann1"])
    member_remove(project=project, by=users["admin"], username="ann1")
    return live, client, token


def test_a_removed_members_submit_is_refused_with_their_text_shown(removed_ann1):
    live, client, token = removed_ann1
    body = {"response": "My careful answer", "client_id": str(uuid.uuid4())}
    response = client.post(f"/p/demo/annotate/{live.id}/submit/", body, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 403
    html = response.content.decode()
    assert "You are no longer a member of this project, so this answer was not saved" in html
    assert "My careful answer" in html
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("what", ["submit", "draft", "skip", "hints"])
def test_a_removed_members_scripted_requests_get_the_message_as_json(removed_ann1, what):
    live, client, token = removed_ann1
    body = {"response": "Kept", "reason": "unclear", "client_id": str(uuid.uuid4())}
    response = client.post(f"/p/demo/annotate/{live.id}/{what}/", body, HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert response.json() == {"detail": NO_LONGER_MEMBER}


def test_a_removed_members_api_submit_gets_403_with_the_message(project, users, removed_ann1):
    live, _, _ = removed_ann1
    body = {"client_id": str(uuid.uuid4()), "payload": {"response": "x"}}
    response = api_for(users["ann1"]).post(f"/api/v1/assignments/{live.id}/submit/", body, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == NO_LONGER_MEMBER


def test_someone_elses_assignment_is_still_404(project, users, make_items):
    make_items(project, demo_rows(2))
    live = assignment_next(project=project, user=users["ann1"])
    client = Client()
    client.force_login(users["outsider"])
    assert client.post(f"/p/demo/annotate/{live.id}/submit/", {"response": "x"}).status_code == 404
    body = {"client_id": str(uuid.uuid4()), "payload": {"response": "x"}}
    assert api_for(users["ann2"]).post(f"/api/v1/assignments/{live.id}/submit/", body, format="json").status_code == 404


# --- API ---


def test_the_api_changes_roles_and_removes_members(project, users, make_items):
    make_items(project, demo_rows(2))
    live = assignment_next(project=project, user=users["ann2"])
    admin = api_for(users["admin"])
    changed = admin.patch("/api/v1/projects/demo/members/ann1/", {"role": "reviewer"}, format="json")
    assert changed.status_code == 200 and changed.json() == {"username": "ann1", "role": "reviewer"}
    assert admin.delete("/api/v1/projects/demo/members/ann2/").status_code == 204
    live.refresh_from_db()
    assert live.status == Assignment.Status.EXPIRED
    assert admin.delete("/api/v1/projects/demo/members/ann2/").status_code == 404
    assert admin.delete("/api/v1/projects/demo/members/admin/").status_code == 409
    bad = admin.patch("/api/v1/projects/demo/members/ann1/", {"role": "owner"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "role"


def test_the_api_adds_a_member_once(project, users):
    admin = api_for(users["admin"])
    body = {"username": "outsider", "role": "annotator"}
    assert admin.post("/api/v1/projects/demo/members/", body, format="json").status_code == 201
    assert admin.post("/api/v1/projects/demo/members/", body, format="json").status_code == 409


@pytest.mark.parametrize(("who", "status"), [("reviewer", 403), ("ann1", 403), ("outsider", 404)])
def test_the_member_api_refuses_non_admins(project, users, who, status):
    client = api_for(users[who])
    assert client.patch("/api/v1/projects/demo/members/ann2/", {"role": "admin"}, format="json").status_code == status
    assert client.delete("/api/v1/projects/demo/members/ann2/").status_code == status
    assert Membership.objects.get(project=project, user=users["ann2"]).role == "annotator"


def test_the_member_api_refuses_an_admin_of_another_project(project, other_project, users):
    Membership.objects.create(project=other_project, user=users["ann2"], role="annotator")
    client = api_for(users["admin"])
    assert client.patch("/api/v1/projects/b/members/ann2/", {"role": "admin"}, format="json").status_code == 404
    assert client.delete("/api/v1/projects/b/members/ann2/").status_code == 404


def test_staff_create_users_over_the_api(users, django_user_model):
    users["admin"].is_staff = True
    users["admin"].save()
    staff = api_for(users["admin"])
    body = {"username": "newbie", "password": "a-long-pass-phrase-9", "email": "n@example.org"}
    created = staff.post("/api/v1/users/", body, format="json")
    assert created.status_code == 201 and created.json()["username"] == "newbie"
    assert "password" not in created.json()
    assert django_user_model.objects.get(username="newbie").check_password("a-long-pass-phrase-9")
    weak = staff.post("/api/v1/users/", {"username": "weak", "password": "123"}, format="json")
    assert weak.status_code == 400 and weak.json()["field"] == "password"
    assert {e["field"] for e in weak.json()["errors"]} == {"password"}
    again = staff.post("/api/v1/users/", body, format="json")
    assert again.status_code == 400 and again.json()["field"] == "username"


def test_non_staff_cannot_create_users(users, django_user_model):
    body = {"username": "newbie", "password": "a-long-pass-phrase-9"}
    assert api_for(users["admin"]).post("/api/v1/users/", body, format="json").status_code == 403
    assert APIClient().post("/api/v1/users/", body, format="json").status_code == 401
    assert not django_user_model.objects.filter(username="newbie").exists()


def test_creating_a_project_is_audited(users):
    project = project_create(creator=users["admin"], name="Audited", slug="audited")
    event = AuditEvent.objects.get(action=Action.PROJECT_CREATE)
    assert (event.project, event.actor, event.after) == (
        project,
        users["admin"],
        {"name": "Audited", "slug": "audited"},
    )


@pytest.mark.django_db
def test_a_new_member_is_not_shown_the_whole_guidelines_as_a_change(project, users):
    from annotation.guidelines import guidelines_notice, guidelines_save
    from annotation.invites import invite_accept, invite_create
    from annotation.members import member_add

    guidelines_save(project=project, by=users["admin"], text="Be kind.")
    guidelines_save(project=project, by=users["admin"], text="Be kind and brief.")
    added = member_add(project=project, by=users["admin"], username="outsider", role="annotator")
    _, token = invite_create(project=project, by=users["admin"], role="annotator")
    invited = invite_accept(token=token, username="newcomer", password="a long passphrase 42", password2=None)
    joined = Membership.objects.get(project=project, user__username="newcomer")
    assert guidelines_notice(added) is None and guidelines_notice(joined) is None, invited
    guidelines_save(project=project, by=users["admin"], text="Be kind, brief and exact.")
    added.refresh_from_db()
    assert guidelines_notice(added) is not None
