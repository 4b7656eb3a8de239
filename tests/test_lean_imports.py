"""A web process stays lean: the URL conf and warm page requests import no numerical or training library."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = [
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "datasketch",
    "SetSimilaritySearch",
    "statsmodels",
    "krippendorff",
    "sklearn",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
]

# Runs in a fresh interpreter: what it imports is what a web worker imports.
WEB_PROCESS = """
import json, sys
import django

django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

heavy = json.loads(sys.argv[1])
loaded = {}


def check(stage):
    loaded[stage] = sorted(name for name in heavy if name in sys.modules)


import config.wsgi  # noqa: E402, F401  (what gunicorn preloads: it imports the URL conf too)

check("url conf")
setup_test_environment()
call_command("migrate", verbosity=0)
call_command("createcachetable", verbosity=0)
from django.contrib.auth import get_user_model  # noqa: E402

from annotation.item_import import item_import  # noqa: E402
from annotation.models import Membership  # noqa: E402
from annotation.projects import project_create  # noqa: E402

users = get_user_model().objects
admin, annotator = users.create_user("admin"), users.create_user("annotator")
project = project_create(creator=admin, name="Lean", slug="lean")
Membership.objects.create(project=project, user=annotator)
rows = [
    {"kind": "demonstration", "prompt": "Explain a mutex."},
    {"kind": "preference", "prompt": "Which is clearer?", "responses": [{"text": "A"}, {"text": "B"}]},
]
item_import(project=project, lines=[json.dumps(row) for row in rows])
client = Client()
assert client.get("/login/").status_code == 200
check("login page")
client.force_login(annotator)
for page in ("/", "/p/lean/annotate/", "/p/lean/annotate/"):
    assert client.get(page).status_code == 200, page
check("annotate page")
print(json.dumps(loaded))
"""


def test_the_web_process_imports_no_heavy_library(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "True",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'lean.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "REDIS_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS, json.dumps(HEAVY)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"url conf": [], "login page": [], "annotate page": []}
