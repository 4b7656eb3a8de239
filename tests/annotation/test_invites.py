"""Invites: a one-time sign-up link (only its hash stored) that expires, can be revoked, and joins one project."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from annotation import invites
from annotation.audit import Action
from annotation.errors import Gone
from annotation.invites import invite_accept, invite_accept_existing, invite_create
from annotation.models import AuditEvent, Invite, Membership
from annotation.projects import project_create
from tests.conftest import api_key, login

pytestmark = pytest.mark.django_db

GOOD = "a-long-pass-phrase-9"


@pytest.fixture
def invited(project, users):
    invite, token = invite_create(project=project, by=users["admin"], role="reviewer")
    return invite, token


def sign_up(client, token, **fields):
    data = {"username": "newbie", "password": GOOD, "password2": GOOD, **fields}
    return client.post(f"/invite/{token}/", data, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)


@pytest.fixture
def visitor():
    return Client(enforce_csrf_checks=True)


def open_page(client, token):
    return client.get(f"/invite/{token}/")


def test_an_admin_creates_an_invite_and_sees_its_link_once(project, users, browser_client):
    token = login(browser_client, users["admin"])
    response = browser_client.post(
        "/p/demo/invites/", {"role": "annotator", "email": "new@example.org", "days": "3"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201
    link = re.search(r'id="invite-link" class="copy-value" readonly value="([^"]+)"', response.content.decode())[1]
    secret = link.rstrip("/").rsplit("/", 1)[1]
    invite = Invite.objects.get()
    assert invite.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert not Invite.objects.filter(token_hash=secret).exists()
    assert (invite.role, invite.email) == ("annotator", "new@example.org")
    assert timedelta(days=3) - (invite.expires_at - timezone.now()) < timedelta(minutes=1)
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body
    again = browser_client.get("/p/demo/members/").content.decode()
    assert secret not in again and "new@example.org" in again
    assert AuditEvent.objects.filter(action=Action.INVITE_CREATE, project=project).count() == 1


@pytest.mark.parametrize(
    ("data", "field"), [({"role": "boss"}, "role"), ({"email": "not-mail"}, "email"), ({"days": "90"}, "days")]
)
def test_a_bad_invite_form_is_refused_and_kept(project, users, browser_client, data, field):
    token = login(browser_client, users["admin"])
    body = {"role": "annotator", "email": "", "days": "7", **data}
    response = browser_client.post("/p/demo/invites/", body, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 422
    assert f'id="invite-{field}-error"' in response.content.decode() or field == "role"
    assert not Invite.objects.exists()


def test_signing_up_creates_the_user_and_membership_logs_in_and_opens_annotate(project, invited, visitor):
    _, token = invited
    page = open_page(visitor, token)
    assert page.status_code == 200 and "You are invited as <strong>reviewer</strong>" in page.content.decode()
    response = sign_up(visitor, token, email="n@example.org")
    assert response.status_code == 302 and response["Location"] == "/p/demo/annotate/"
    member = Membership.objects.get(project=project, user__username="newbie")
    assert member.role == "reviewer" and member.user.email == "n@example.org"
    assert visitor.get("/p/demo/annotate/").status_code == 200
    invite = Invite.objects.get()
    assert invite.used_by == member.user and invite.used_at is not None
    assert AuditEvent.objects.get(action=Action.INVITE_ACCEPT).after == {"username": "newbie", "role": "reviewer"}


def test_a_link_works_once(project, invited, visitor):
    _, token = invited
    open_page(visitor, token)
    sign_up(visitor, token)
    other = Client(enforce_csrf_checks=True)
    page = open_page(other, token)
    assert page.status_code == 410 and "already used" in page.content.decode()


def test_two_racing_accepts_create_one_user(project, invited, monkeypatch, django_user_model):
    """The second accept passed the first check before the first one committed: the conditional update stops it."""
    invite, token = invited
    stale = Invite.objects.select_related("project").get(id=invite.id)
    invite_accept(token=token, username="first", password=GOOD)
    monkeypatch.setattr(invites, "invite_for", lambda _token: stale)
    with pytest.raises(Gone, match="just used"):
        invite_accept(token=token, username="second", password=GOOD)
    assert not django_user_model.objects.filter(username="second").exists()
    assert Membership.objects.filter(project=project, user__username="first").exists()


def test_an_expired_link_is_refused(project, invited, visitor):
    invite, token = invited
    Invite.objects.filter(id=invite.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    page = open_page(visitor, token)
    assert page.status_code == 410 and "expired" in page.content.decode()
    with pytest.raises(Gone):
        invite_accept(token=token, username="late", password=GOOD)


def test_a_revoked_link_is_refused(project, users, invited, browser_client, visitor):
    invite, token = invited
    csrf = login(browser_client, users["admin"])
    assert browser_client.post(f"/p/demo/invites/{invite.id}/revoke/", HTTP_X_CSRFTOKEN=csrf).status_code == 302
    page = open_page(visitor, token)
    assert page.status_code == 410 and "revoked" in page.content.decode()
    assert AuditEvent.objects.filter(action=Action.INVITE_REVOKE).count() == 1


def test_an_unknown_link_is_refused(visitor):
    page = open_page(visitor, "made-up")
    assert page.status_code == 410 and "not valid" in page.content.decode()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password": "short", "password2": "short"}, "password", "This password is too short"),
        ({"password": "password123", "password2": "password123"}, "password", "This password is too common"),
        ({"password": "8472910365", "password2": "8472910365"}, "password", "This password is entirely numeric"),
        ({"password2": GOOD + "x"}, "password2", "The two passwords differ."),
        ({"username": "ann1"}, "username", "is taken"),
        ({"username": "bad name!"}, "username", "Enter a valid username"),
        ({"username": ""}, "username", "Enter a username."),
        ({"email": "nope"}, "email", "Enter a valid email address."),
    ],
)
def test_sign_up_errors_are_shown_by_field_and_keep_the_username(project, invited, visitor, fields, field, message):
    _, token = invited
    open_page(visitor, token)
    response = sign_up(visitor, token, **fields)
    assert response.status_code == 422
    html = response.content.decode()
    error = re.search(rf'id="{field}-error" role="alert">([^<]*)<', html)
    assert error and message in error[1].replace("&#x27;", "'"), html[-3000:]
    assert GOOD not in html
    assert not Membership.objects.filter(project=project, user__username="newbie").exists()
    assert Invite.objects.get().used_at is None


def test_a_logged_in_user_joins_with_one_click(project, users, invited):
    _, token = invited
    client = Client(enforce_csrf_checks=True)
    csrf = login(client, users["outsider"])
    page = client.get(f"/invite/{token}/")
    assert "Join project Demo" in page.content.decode()
    response = client.post(f"/invite/{token}/", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 302 and response["Location"] == "/p/demo/annotate/"
    assert Membership.objects.get(project=project, user=users["outsider"]).role == "reviewer"


def test_an_existing_member_keeps_their_role(project, users, invited):
    _, token = invited
    invite_accept_existing(token=token, user=users["ann1"])
    assert Membership.objects.get(project=project, user=users["ann1"]).role == "annotator"


def test_the_invite_api(project, users):
    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['admin'])}")
    made = admin.post("/api/v1/projects/demo/invites/", {"role": "annotator"}, format="json")
    assert made.status_code == 201 and "/invite/" in made.json()["link"]
    listed = admin.get("/api/v1/projects/demo/invites/").json()
    assert [row["id"] for row in listed] == [made.json()["id"]] and "link" not in listed[0]
    assert admin.delete(f"/api/v1/invites/{made.json()['id']}/").status_code == 204
    assert admin.get("/api/v1/projects/demo/invites/").json() == []
    assert admin.post("/api/v1/projects/demo/invites/", {"days": 0}, format="json").status_code == 400


@pytest.mark.parametrize(("who", "status"), [("reviewer", 403), ("ann1", 403), ("outsider", 404)])
def test_the_invite_api_refuses_non_admins(project, users, invited, who, status):
    invite, _ = invited
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users[who])}")
    assert client.get("/api/v1/projects/demo/invites/").status_code == status
    assert client.post("/api/v1/projects/demo/invites/", {"role": "admin"}, format="json").status_code == status
    assert client.delete(f"/api/v1/invites/{invite.id}/").status_code == status
    assert Invite.objects.get().revoked_at is None


def test_an_admin_of_another_project_cannot_touch_its_invites(project, users, django_user_model):
    owner = django_user_model.objects.create_user(username="owner-b")
    other = project_create(creator=owner, name="B", slug="b")
    invite, _ = invite_create(project=other, by=owner, role="annotator")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['admin'])}")
    assert client.delete(f"/api/v1/invites/{invite.id}/").status_code == 404
    assert client.get("/api/v1/projects/b/invites/").status_code == 404
    web = Client()
    web.force_login(users["admin"])
    assert web.post(f"/p/demo/invites/{invite.id}/revoke/").status_code == 404
    assert web.post(f"/p/b/invites/{invite.id}/revoke/").status_code == 404
    invite.refresh_from_db()
    assert invite.revoked_at is None
