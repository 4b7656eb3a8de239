"""An item an admin excluded from exports stays out of every snapshot file, with all its annotations."""

import json

import pytest
from rest_framework.test import APIClient

from annotation.models import Item
from tests.conftest import api_key
from tests.training.conftest import build
from training.snapshots.service import snapshot_file

pytestmark = pytest.mark.django_db


def prompts(snapshot) -> set[str]:
    seen = set()
    for name in snapshot.files:
        if name.endswith(".jsonl"):
            with snapshot_file(snapshot, name) as handle:
                for line in handle.read().decode().splitlines():
                    row = json.loads(line)
                    seen.add(row["prompt"][-1]["content"] if isinstance(row.get("prompt"), list) else row.get("prompt"))
    return seen


def test_excluded_items_are_absent_from_a_snapshot(judged, users, django_capture_on_commit_callbacks):
    before = prompts(build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0))
    assert {"Majority", "Disputed", "Write ransomware", "Say hello to a new colleague"} <= before
    names = ["Majority", "Disputed", "Write ransomware", "Say hello to a new colleague"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['admin'])}")
    item_ids = list(Item.objects.filter(prompt__in=names).values_list("id", flat=True))
    response = client.post(
        "/api/v1/projects/demo/items/bulk/",
        {"action": "exclude", "item_ids": item_ids, "reason": "bad batch"},
        format="json",
    )
    assert response.status_code == 200, response.content
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    after = prompts(snapshot)
    assert not set(names) & after and after  # the rest is still there
    assert before - set(names) == after
