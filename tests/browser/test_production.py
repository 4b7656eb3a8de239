"""The production settings in a real browser: gunicorn, DEBUG off, collected static files, a strict CSP."""

import re
import secrets

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from annotation.models import Draft
from tests.browser.conftest import project_with, shot
from tests.servers import gunicorn, manage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def production(tmp_path):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    manage("collectstatic", "--noinput", env=env)
    with gunicorn(env, workers=2) as url:
        yield url


def test_an_annotator_works_against_the_production_server(page, production, users):
    """Static files are served (htmx loads), no page needs inline code, and autosave reaches the database."""
    hasher = PBKDF2PasswordHasher()
    users["ann1"].password = hasher.encode("correct horse", hasher.salt(), iterations=1000)
    users["ann1"].save()
    project_with([{"kind": "demonstration", "prompt": "What is a mutex?"}], "prod", ["ann1"])
    blocked: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))

    login = page.goto(f"{production}/login/")
    assert "default-src 'self'" in login.headers["content-security-policy"]
    page.fill("#id_username", "ann1")
    page.fill("#id_password", "correct horse")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{production}/")
    page.goto(f"{production}/p/prod/annotate/")
    page.wait_for_selector('#task-form[data-kind="demonstration"]')
    assert page.evaluate("typeof window.htmx") == "object"
    page.click("#response")
    page.keyboard.type("A lock that one thread holds at a time.")
    page.wait_for_selector('#save-state[data-state="saved"]')
    shot(page, "production-autosave")

    assert Draft.objects.get().payload["response"] == "A lock that one thread holds at a time."
    script = page.evaluate("document.querySelector('script[src*=htmx]').src")
    page.goto(f"{production}/api/v1/docs/")
    page.wait_for_selector("text=Quorum API")
    assert blocked == []
    assert re.search(r"/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{12}\.js$", script), script
    served = requests.get(script, headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert served.status_code == 200 and served.headers["Content-Encoding"] == "gzip"
    assert "immutable" in served.headers["Cache-Control"]
