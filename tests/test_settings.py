import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
    result = manage("check", SECRET_KEY="k" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789", DEBUG="yes")
    assert result.returncode != 0 and "DEBUG must be True or False" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("p" * 10 + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ")
    result = manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY_FILE=str(key_file), DEBUG="False")
    assert result.returncode == 0, result.stderr
