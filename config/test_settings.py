"""Settings for the test suite: the production module, fed a test environment."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-x7Q2p9Lm4Rt8Vb3Nc6Wz1Ka5Hd0JfGy2Ue9Ps4Tn7Bq5")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("MEDIA_ROOT", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".test-media"))

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation in tests

TASKS = {  # background work runs inline
    "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": TASK_QUEUES}  # noqa: F405
}

# Pages use static/ as it is, no `collectstatic`: tests/browser/test_production.py runs the production storage.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = None

# Several suites can run side by side on one machine when each names its own SQLite file and media folder.
if os.environ.get("QUORUM_TEST_DB") and DATABASES["default"]["ENGINE"] == "config.sqlite":  # noqa: F405
    DATABASES["default"]["TEST"]["NAME"] = os.environ["QUORUM_TEST_DB"]  # noqa: F405
