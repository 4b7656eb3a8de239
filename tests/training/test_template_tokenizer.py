"""A snapshot's `template_tokenizer` names a hub id or a folder under MODELS_ROOT, and nothing else on the server."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import api_key
from training.snapshots.config import TOKENIZER_RULE

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(project, users):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['admin'])}")
    return client


@pytest.fixture
def models_root(settings, tmp_path):
    settings.MODELS_ROOT = tmp_path / "models"
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return tmp_path


def snapshot_request(client, tokenizer):
    return client.post("/api/v1/projects/demo/snapshots/", {"template_tokenizer": tokenizer}, format="json")


@pytest.mark.parametrize(
    "tokenizer",
    ["/etc", "/no/such/folder", "{root}/outside", "{root}/models/missing", "tiny/../../outside", "../etc", "a" * 300],
)
def test_paths_outside_the_models_folder_or_missing_get_one_answer(admin_api, models_root, tokenizer):
    response = snapshot_request(admin_api, tokenizer.format(root=models_root))
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "template_tokenizer"
    assert body["detail"] == f"template_tokenizer: {TOKENIZER_RULE}"


@pytest.mark.parametrize("tokenizer", ["tiny", "{root}/models/tiny", "Qwen/Qwen2.5-0.5B-Instruct", "gpt2"])
def test_a_models_folder_or_a_hub_id_is_accepted(admin_api, models_root, tokenizer):
    assert snapshot_request(admin_api, tokenizer.format(root=models_root)).status_code == 202
