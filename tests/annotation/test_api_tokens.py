"""Personal API tokens: the key is shown once and stored hashed, its last use is kept cheaply, revoking ends it."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.api_tokens import token_create
from annotation.models import ApiToken
from tests.conftest import login

pytestmark = pytest.mark.django_db


def with_key(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_only_the_hash_of_a_key_is_stored(users):
    token, key = token_create(user=users["ann1"], name="laptop")
    assert key.startswith("qrm_") and len(key) > 40
    stored = ApiToken.objects.get()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.key_hash, stored.prefix, stored.name}
    assert key.startswith(stored.prefix)


def test_a_key_authenticates_its_user(project, users):
    _, key = token_create(user=users["ann1"], name="laptop")
    response = with_key(key).get("/api/v1/projects/")
    assert response.status_code == 200 and [p["slug"] for p in response.json()] == ["demo"]
    assert with_key(key + "x").get("/api/v1/projects/").status_code == 401


def test_the_last_use_is_written_at_most_once_a_minute(users):
    token, key = token_create(user=users["ann1"], name="laptop")
    assert with_key(key).get("/api/v1/projects/").status_code == 200
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    recent = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.update(last_used_at=recent)
    with_key(key).get("/api/v1/projects/")
    assert ApiToken.objects.get().last_used_at == recent
    stale = timezone.now() - timedelta(seconds=61)
    ApiToken.objects.update(last_used_at=stale)
    with_key(key).get("/api/v1/projects/")
    assert ApiToken.objects.get().last_used_at > stale + timedelta(seconds=60)


def test_a_revoked_key_is_refused(users):
    token, key = token_create(user=users["ann1"], name="laptop")
    client = with_key(key)
    assert client.delete(f"/api/v1/auth/tokens/{token.id}/").status_code == 204
    assert client.get("/api/v1/projects/").status_code == 401


def test_a_deactivated_users_key_is_refused(users):
    _, key = token_create(user=users["ann1"], name="laptop")
    users["ann1"].is_active = False
    users["ann1"].save()
    assert with_key(key).get("/api/v1/projects/").status_code == 401


def test_another_users_token_cannot_be_seen_or_revoked(users):
    theirs, _ = token_create(user=users["ann2"], name="theirs")
    _, key = token_create(user=users["ann1"], name="mine")
    client = with_key(key)
    assert [t["name"] for t in client.get("/api/v1/auth/tokens/").json()] == ["mine"]
    assert client.delete(f"/api/v1/auth/tokens/{theirs.id}/").status_code == 404
    web = Client()
    web.force_login(users["ann1"])
    assert web.post(f"/account/tokens/{theirs.id}/revoke/").status_code == 404
    assert ApiToken.objects.filter(id=theirs.id).exists()


def test_the_api_creates_named_tokens_and_lists_them_without_keys(users):
    _, key = token_create(user=users["ann1"], name="first")
    client = with_key(key)
    made = client.post("/api/v1/auth/tokens/", {"name": "ci"}, format="json")
    assert made.status_code == 201 and made.json()["key"].startswith("qrm_")
    assert with_key(made.json()["key"]).get("/api/v1/auth/tokens/").status_code == 200
    listed = client.get("/api/v1/auth/tokens/").json()
    assert {t["name"] for t in listed} == {"first", "ci"} and all("key" not in t for t in listed)
    assert client.post("/api/v1/auth/tokens/", {"name": ""}, format="json").status_code == 400
    assert client.post("/api/v1/auth/tokens/", {"name": "x" * 101}, format="json").status_code == 400


def test_a_password_login_makes_a_named_token(users):
    response = APIClient().post("/api/v1/auth/token/", {"username": "ann1", "password": "pw-ann1"}, format="json")
    assert response.status_code == 200
    assert ApiToken.objects.get(user=users["ann1"]).name == "API login"
    assert with_key(response.json()["token"]).get("/api/v1/projects/").status_code == 200


def test_anonymous_requests_are_refused(users):
    assert APIClient().get("/api/v1/auth/tokens/").status_code == 401
    page = Client().get("/account/tokens/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")


def test_the_tokens_page_shows_a_new_key_once_then_lists_it(users, browser_client):
    csrf = login(browser_client, users["ann1"])
    response = browser_client.post("/account/tokens/", {"name": "laptop"}, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201
    key = re.search(r'id="token-key" class="copy-value" readonly value="([^"]+)"', response.content.decode())[1]
    assert with_key(key).get("/api/v1/projects/").status_code == 200
    page = browser_client.get("/account/tokens/").content.decode()
    assert key not in page and "laptop" in page and f"{key[:8]}…" in page
    token = ApiToken.objects.get()
    assert browser_client.post(f"/account/tokens/{token.id}/revoke/", HTTP_X_CSRFTOKEN=csrf).status_code == 302
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(("name", "message"), [("", "Name the token."), ("x" * 101, "at most 100 characters")])
def test_a_bad_token_name_is_refused_on_the_page(users, browser_client, name, message):
    csrf = login(browser_client, users["ann1"])
    response = browser_client.post("/account/tokens/", {"name": name}, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 422 and message in response.content.decode()
    assert not ApiToken.objects.exists()
