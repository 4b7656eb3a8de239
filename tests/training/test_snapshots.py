import json

import pytest
from django.core.files.storage import default_storage

from annotation.models import Item
from tests.training.conftest import build
from training.models import Snapshot
from training.snapshots.aggregate import aggregate
from training.snapshots.config import snapshot_config
from training.snapshots.service import snapshot_create, snapshot_file

pytestmark = pytest.mark.django_db


def read_jsonl(snapshot, name):
    with snapshot_file(snapshot, name) as handle:
        return [json.loads(line) for line in handle.read().decode().splitlines()]


def test_a_snapshot_holds_exactly_the_vouched_for_data(judged, users, django_capture_on_commit_callbacks):
    snapshot = build(
        judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0, system_prompt="Be kind."
    )
    sft = read_jsonl(snapshot, "sft.train.jsonl")
    answers = sorted(row["messages"][-1]["content"] for row in sft)
    assert "Hi there!" in answers  # the reviewer's edit
    assert not any("by outsider" in a or "by ann2" in a and "hello" in a.lower() for a in answers)  # pending, rejected
    assert "best" in answers  # a better response is an SFT row too
    assert all(row["messages"][0] == {"role": "system", "content": "Be kind."} for row in sft)
    refusal = next(row for row in sft if row["safety"] == "should_refuse")
    assert refusal["harm_category"] == "cyber" and refusal["source"] == "refusal"

    dpo = read_jsonl(snapshot, "dpo.train.jsonl")
    by_prompt = {}
    for row in dpo:
        by_prompt.setdefault(row["prompt"][-1]["content"], []).append(row)
    assert set(by_prompt) == {"Majority", "Disputed"}  # the tie is dropped, gold is excluded
    majority = [row for row in by_prompt["Majority"] if row["source"] == "preference"][0]
    assert (majority["chosen"][0]["content"], majority["rejected"][0]["content"]) == ("good", "bad")
    assert majority["agreement"] == pytest.approx(2 / 3) and majority["votes"] == 3
    better = [row for row in by_prompt["Majority"] if row["source"] == "better_response"]
    assert sorted(row["rejected"][0]["content"] for row in better) == ["bad", "good"]
    (disputed,) = by_prompt["Disputed"]
    assert disputed["chosen"][0]["content"] == "second" and disputed["adjudicated"]

    counts = snapshot.counts
    assert counts["rows"]["sft.train"] == len(sft) and counts["dropped"] == {"gold": 1, "not_agreed": 1}
    card = json.loads(snapshot_file(snapshot, "card.json").read())
    assert card["content_hash"] == snapshot.content_hash and card["config"]["system_prompt"] == "Be kind."
    assert "# Dataset card: demo" in snapshot_file(snapshot, "card.md").read().decode()
    assert {"sft.train.parquet", "dpo.eval.parquet", "eval_items.json"} <= set(snapshot.files)


def test_the_same_inputs_give_the_same_bytes(judged, users, django_capture_on_commit_callbacks):
    first = build(judged, users["admin"], django_capture_on_commit_callbacks, seed=3)
    second = build(judged, users["admin"], django_capture_on_commit_callbacks, seed=3)
    assert (first.version, second.version) == (1, 2)
    assert first.content_hash == second.content_hash and first.files == second.files
    for name in first.files:
        assert snapshot_file(first, name).read() == snapshot_file(second, name).read(), name
    third = build(judged, users["admin"], django_capture_on_commit_callbacks, seed=3, min_agreement=1.0)
    assert third.content_hash != first.content_hash


def test_near_duplicates_never_cross_splits_and_eval_can_be_pinned(judged, users, django_capture_on_commit_callbacks):
    twins = list(Item.objects.filter(prompt__startswith="Write a function").order_by("id"))
    assert twins[1].duplicate_of_id == twins[0].id
    for seed in range(8):
        snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.5, seed=seed)
        held_out = set(json.loads(snapshot_file(snapshot, "eval_items.json").read()))
        assert (twins[0].id in held_out) == (twins[1].id in held_out)
    pinned = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.5, seed=1)
    again = build(
        judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.5, seed=99, pin_eval_from=pinned.id
    )
    assert snapshot_file(pinned, "eval_items.json").read() == snapshot_file(again, "eval_items.json").read()


def test_mixing_weights_are_met_and_reported(judged, users, django_capture_on_commit_callbacks):
    snapshot = build(
        judged,
        users["admin"],
        django_capture_on_commit_callbacks,
        eval_fraction=0.0,
        mix_by="task_type",
        mix_weights={"code": 0.2, "*": 0.8},
    )
    mix = snapshot.counts["mix"]
    assert mix["train_rows"] == {"(none)": 3, "chat": 1, "code": 1}
    assert mix["realised"]["code"] == 0.2 and snapshot.counts["dropped"]["mixed_out"] == 3


def test_bad_requests_name_the_option(project, users):
    from annotation.errors import InvalidInput

    for config, field in [
        ({"eval_fraction": 0.9}, "eval_fraction"),
        ({"tiez": "drop"}, "tiez"),
        ({"mix_weights": {"a": 0.3}}, "mix_weights"),
        ({"pin_eval_from": 999}, "pin_eval_from"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            snapshot_create(project=project, user=users["admin"], config=config)
        assert caught.value.field == field
    assert Snapshot.objects.count() == 0


@pytest.mark.parametrize(
    ("scores", "kwargs", "expected"),
    [
        ([2, 2, -1], {}, (0, 2 / 3)),
        ([2, -2], {}, None),
        ([0, 0, 2], {"ties": "count"}, None),
        ([0, 0, 2], {"ties": "ignore"}, (0, 1.0)),
        ([1, 1, -3], {"min_strength": "clear"}, None),
        ([3, 3, 3, -1], {"min_agreement": 0.8}, None),
        ([-1, -1, 2], {"adjudication": (0, "clear")}, (0, 1 / 3)),
        ([2, 2], {"adjudication": ("tie", "")}, None),
    ],
)
def test_aggregation_policy(scores, kwargs, expected):
    options = {"ties": "count", "min_agreement": 0.6, "min_strength": "slight", **kwargs}
    label = aggregate(scores, **options)
    assert (label.winner, pytest.approx(label.agreement)) == expected if expected else label is None


def test_files_live_under_media_root(judged, users, django_capture_on_commit_callbacks):
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks)
    assert default_storage.exists(f"snapshots/demo/v{snapshot.version}/sft.train.jsonl")
    assert snapshot_config(snapshot.config).seed == 0
