import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "Zq3vR8tLw1xNc5bYh7Km2Pd9Fs4Gj6Ha0Ue_Tz-Ai8Ov3Wm5Xr1Ey7Qn2Bk4Cl6Sp9Du"
TEST_ONLY = {"DJANGO_ALLOW_ASYNC_UNSAFE"}  # set while the browser tests' Playwright session is open


def manage(*args, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "SECRET_KEY_FILE", "DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT", *TEST_ONLY}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_without_a_secret_key():
    result = manage("check")
    assert result.returncode != 0 and "Set SECRET_KEY" in result.stderr


def test_it_refuses_a_weak_secret_key():
    result = manage("check", SECRET_KEY="short")
    assert result.returncode != 0 and "at least 50 characters" in result.stderr


def test_it_refuses_a_malformed_boolean():
    result = manage("check", SECRET_KEY=STRONG_KEY, DEBUG="yes")
    assert result.returncode != 0 and "DEBUG must be True or False" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(STRONG_KEY)
    result = manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY_FILE=str(key_file), DEBUG="False")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "key", ["password" * 8, "p" * 10 + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ", "0123456789" * 6]
)
def test_it_refuses_a_long_but_low_entropy_secret_key(key):
    result = manage("check", SECRET_KEY=key)
    assert result.returncode != 0 and "at least 50 characters of random text" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_secret_key_file_is_named_without_a_traceback(tmp_path):
    result = manage("check", SECRET_KEY_FILE=str(tmp_path / "absent"))
    assert result.returncode != 0
    assert f"SECRET_KEY_FILE is '{tmp_path / 'absent'}', which cannot be read" in result.stderr
    assert "Traceback" not in result.stderr


def test_proxy_headers_are_trusted_only_when_configured():
    show = "from django.conf import settings as s; print(s.SECURE_PROXY_SSL_HEADER, s.REST_FRAMEWORK['NUM_PROXIES'])"
    default = manage("shell", "--no-imports", "-c", show, SECRET_KEY=STRONG_KEY)
    assert default.stdout.split() == ["None", "0"], default.stderr
    behind = manage(
        "shell",
        "--no-imports",
        "-c",
        show,
        SECRET_KEY=STRONG_KEY,
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        NUM_PROXIES="1",
    )
    assert behind.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') 1", behind.stderr


@pytest.mark.django_db
def test_a_client_cannot_claim_https_with_a_header(settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301 and response["Location"].startswith("https://")


@pytest.mark.parametrize(("setting", "threshold"), [(None, 5), ("False", None)])
def test_postgresql_prepares_statements_unless_told_not_to(setting, threshold):
    env = {"DATABASE_PREPARED_STATEMENTS": setting} if setting else {}
    show = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
    result = manage("shell", "-c", show, SECRET_KEY=STRONG_KEY, DATABASE_URL="postgres://q@db.invalid/q", **env)
    assert result.returncode == 0, result.stderr
    assert f"'server_side_binding': True, 'prepare_threshold': {threshold}" in result.stdout
