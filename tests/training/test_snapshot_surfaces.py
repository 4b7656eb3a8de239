import html
import json

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import api_key, login
from tests.training.conftest import build
from training.models import Snapshot

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
    return client


def test_an_admin_builds_a_snapshot_from_the_page(judged, users, browser_client, django_capture_on_commit_callbacks):
    token = login(browser_client, users["admin"])
    form = {"include_sft": "on", "include_dpo": "on", "exclude_gold": "on", "eval_fraction": "0.2", "seed": "4"}
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_client.post("/p/demo/snapshots/", form, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302 and response["Location"] == "/p/demo/snapshots/1/"
    page = browser_client.get("/p/demo/snapshots/1/").content.decode()
    assert "Dataset card: demo" in page and "sft.train.jsonl" in page
    download = browser_client.get("/p/demo/snapshots/1/files/sft.train.jsonl")
    assert download["Content-Type"] == "application/x-ndjson" and "attachment" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert json.loads(b"".join(download.streaming_content).splitlines()[0])["completion"]
    bad = browser_client.post("/p/demo/snapshots/", {**form, "mix_weights": "{oops"}, HTTP_X_CSRFTOKEN=token)
    assert bad.status_code == 422 and "mix_weights" in bad.content.decode()


def test_snapshot_pages_are_for_reviewers_and_admins(
    judged, users, django_capture_on_commit_callbacks, django_user_model
):
    build(judged, users["admin"], django_capture_on_commit_callbacks)
    users["stranger"] = django_user_model.objects.create_user("stranger")  # the fixture made "outsider" a judge
    expected = {"admin": 200, "reviewer": 200, "ann1": 403, "stranger": 404}
    for path in ["/p/demo/snapshots/", "/p/demo/snapshots/1/", "/p/demo/snapshots/1/files/card.json"]:
        for name, status in expected.items():
            client = Client()
            client.force_login(users[name])
            assert client.get(path).status_code == status, (path, name)
    reviewer = Client()
    reviewer.force_login(users["reviewer"])
    assert reviewer.get("/p/demo/snapshots/1/files/../../settings.py").status_code == 404
    assert reviewer.get("/p/demo/snapshots/1/files/secrets.json").status_code == 404
    token = login(reviewer, users["reviewer"])
    assert reviewer.post("/p/demo/snapshots/", {}, HTTP_X_CSRFTOKEN=token).status_code == 403


def test_the_snapshot_api(judged, users, django_capture_on_commit_callbacks, django_user_model):
    with django_capture_on_commit_callbacks(execute=True):
        created = api(users["admin"]).post("/api/v1/projects/demo/snapshots/", {"seed": 2}, format="json")
    assert created.status_code == 202 and created.json()["version"] == 1
    snapshot_id = created.json()["id"]
    detail = api(users["reviewer"]).get(f"/api/v1/snapshots/{snapshot_id}/").json()
    assert detail["status"] == "ready" and detail["content_hash"]
    assert [s["version"] for s in api(users["reviewer"]).get("/api/v1/projects/demo/snapshots/").json()] == [1]
    card = api(users["reviewer"]).get(f"/api/v1/snapshots/{snapshot_id}/files/card.json")
    assert json.loads(b"".join(card.streaming_content))["content_hash"] == detail["content_hash"]
    stranger = django_user_model.objects.create_user("stranger")
    assert api(stranger).get(f"/api/v1/snapshots/{snapshot_id}/").status_code == 404
    assert api(users["reviewer"]).post("/api/v1/projects/demo/snapshots/", {}, format="json").status_code == 403
    bad = api(users["admin"]).post("/api/v1/projects/demo/snapshots/", {"eval_fraction": 2}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "eval_fraction"


def test_the_command_builds_with_a_progress_bar(judged, tmp_path, capsys):
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"system_prompt": "Be brief."}))
    call_command("snapshot_create", "demo", "--config", str(options), "--seed", "5", "--mix-caps", '{"code": 1}')
    out = capsys.readouterr()
    snapshot = Snapshot.objects.get()
    assert snapshot.status == "ready" and snapshot.config["seed"] == 5 and snapshot.config["mix_caps"] == {"code": 1}
    assert snapshot.config["system_prompt"] == "Be brief."
    assert f"hash {snapshot.content_hash}" in out.out and "100%" in out.err


@pytest.mark.parametrize(
    ("field", "junk", "message"),
    [
        ("seed", "²", "seed: Enter a whole number."),
        ("min_agreement", "nan", "min_agreement: Enter a number."),
        ("mix_weights", "[" * 5000, "mix_weights: JSON nested more than"),
        ("mix_weights", '{"a": NaN}', "mix_weights: a is not a finite number"),
        ("mix_weights", '{"a": 1, "*": 0}', "mix_weights: must map a group"),
        ("pin_eval_from", "9" * 30, "pin_eval_from: Ensure this value is less than or equal to"),
        ("system_prompt", "bad\x00byte", "system_prompt: Null characters are not allowed."),
    ],
)
def test_the_snapshot_form_names_the_field_of_junk_input(judged, users, browser_client, field, junk, message):
    token = login(browser_client, users["admin"])
    response = browser_client.post("/p/demo/snapshots/", {"include_sft": "on", field: junk}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 422
    assert message in html.unescape(response.content.decode())
    assert not Snapshot.objects.exists()
