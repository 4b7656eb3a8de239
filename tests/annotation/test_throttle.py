"""Password guessing is throttled per username and per client address, in a cache every process shares."""

import pytest
import requests
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from tests.servers import gunicorn

USERNAME_LIMIT = settings.LOGIN_FAILURE_LIMITS["username"]
ADDRESS_LIMIT = settings.LOGIN_FAILURE_LIMITS["address"]


@pytest.mark.django_db(transaction=True)
def test_two_server_processes_share_one_count(users):
    """Alternating between two gunicorn processes, the guesses still add up to a 429 for the real password too."""
    env = {"DJANGO_SETTINGS_MODULE": "config.test_settings"}
    with gunicorn(env) as first, gunicorn(env) as second:
        servers = [first, second]
        for guess in range(USERNAME_LIMIT):
            response = requests.post(
                f"{servers[guess % 2]}/api/v1/auth/token/",
                json={"username": "ann1", "password": f"guess-{guess}"},
                timeout=30,
            )
            assert response.status_code == 400, response.text
        for url in servers:
            blocked = requests.post(
                f"{url}/api/v1/auth/token/", json={"username": "ann1", "password": "pw-ann1"}, timeout=30
            )
            assert blocked.status_code == 429, blocked.text
            assert "Too many failed logins" in blocked.json()["detail"]
            assert int(blocked.headers["Retry-After"]) > 0


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_make_new_addresses(users):
    client = APIClient()
    for guess in range(ADDRESS_LIMIT):
        response = client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody{guess}", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.{guess}.1",
        )
        assert response.status_code == 400
    blocked = client.post(
        "/api/v1/auth/token/", {"username": "ann1", "password": "pw-ann1"}, HTTP_X_FORWARDED_FOR="10.9.9.9"
    )
    assert blocked.status_code == 429
    assert blocked.json()["detail"].startswith("Too many failed logins")


@pytest.mark.django_db
def test_a_trusted_proxy_s_x_forwarded_for_names_the_client(users, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    for guess in range(ADDRESS_LIMIT):
        client.post(
            "/api/v1/auth/token/", {"username": f"nobody{guess}", "password": "x"}, HTTP_X_FORWARDED_FOR="10.0.0.1"
        )
    other = client.post(
        "/api/v1/auth/token/", {"username": "ann1", "password": "pw-ann1"}, HTTP_X_FORWARDED_FOR="10.0.0.2"
    )
    assert other.status_code == 200
    same = client.post(
        "/api/v1/auth/token/", {"username": "ann1", "password": "pw-ann1"}, HTTP_X_FORWARDED_FOR="10.0.0.1"
    )
    assert same.status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_login_pages_are_throttled_with_a_readable_page(users, url):
    users["admin"].is_staff = True
    users["admin"].save()
    client = Client()
    for guess in range(USERNAME_LIMIT):
        response = client.post(url, {"username": "admin", "password": f"guess-{guess}"})
        assert response.status_code == 200
    blocked = client.post(url, {"username": "admin", "password": "pw-admin"})
    assert blocked.status_code == 429
    assert blocked["Content-Type"].startswith("text/html")
    assert "Too many failed logins" in blocked.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_one_address_is_blocked_across_usernames_and_surfaces(users):
    client = Client()
    for guess in range(ADDRESS_LIMIT):
        surface = ["/login/", "/admin/login/", "/api/v1/auth/token/"][guess % 3]
        client.post(surface, {"username": f"nobody{guess}", "password": "x"})
    assert client.post("/login/", {"username": "ann2", "password": "pw-ann2"}).status_code == 429
