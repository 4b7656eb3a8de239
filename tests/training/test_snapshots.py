import json
import random
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from annotation.models import Annotation, Item, Membership
from annotation.neardup import THRESHOLD, shingles
from annotation.review import review_decide
from tests.training.conftest import IMPORTED_TURNS, WRITTEN_TURNS, build, work
from training.models import Snapshot
from training.snapshots.aggregate import aggregate
from training.snapshots.config import snapshot_config
from training.snapshots.runner import snapshot_build
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
    answers = sorted(row["completion"][-1]["content"] for row in sft)
    assert "Hi there!" in answers  # the reviewer's edit
    assert not any("by outsider" in a or "by ann2" in a and "hello" in a.lower() for a in answers)  # pending, rejected
    assert "best" in answers  # a better response is an SFT row too
    assert all(row["prompt"][0] == {"role": "system", "content": "Be kind."} for row in sft)
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


def test_gold_items_of_every_kind_stay_out(project, users, make_items, django_capture_on_commit_callbacks):
    project.gold_rate = 1.0
    project.save()
    make_items(
        project,
        [
            {"kind": "demonstration", "prompt": "Gold question", "gold": {"response": "Gold answer"}},
            {"kind": "demonstration", "prompt": "Plain question"},
        ],
    )
    work(project, users["ann1"], lambda item: {"response": f"{item.prompt}: written"})
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    for annotation in Annotation.objects.all():
        review_decide(membership=reviewer, annotation_id=annotation.id, decision="accept")
    assert Annotation.objects.filter(item__is_gold=True).exists()
    snapshot = build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    answers = [row["completion"][-1]["content"] for row in read_jsonl(snapshot, "sft.train.jsonl")]
    assert answers == ["Plain question: written"] and snapshot.counts["dropped"]["gold"] == 1
    included = build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0, exclude_gold=False)
    assert len(read_jsonl(included, "sft.train.jsonl")) == 2


def test_a_better_response_trains_only_as_reviewed_text(judged, users, django_capture_on_commit_callbacks):
    best = Annotation.objects.get(payload__better_response="best")
    Annotation.objects.filter(id=best.id).update(review_status="pending")
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    assert "best" not in [row["completion"][-1]["content"] for row in read_jsonl(snapshot, "sft.train.jsonl")]
    assert all(row["source"] != "better_response" for row in read_jsonl(snapshot, "dpo.train.jsonl"))

    # Without required review, unreviewed text trains unless rejected; but a dropped label's pairs need a reviewer.
    judged.require_review = False
    judged.save()
    tie = Annotation.objects.filter(item__prompt="Tie").order_by("id").first()
    Annotation.objects.filter(id=tie.id).update(payload={**tie.payload, "better_response": "better than both"})
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    assert "better than both" in [row["completion"][-1]["content"] for row in read_jsonl(snapshot, "sft.train.jsonl")]
    chosen = [row["chosen"][0]["content"] for row in read_jsonl(snapshot, "dpo.train.jsonl")]
    assert "better than both" not in chosen and chosen.count("best") == 2
    assert snapshot.counts["dropped"]["better_response_pairs_unreviewed"] == 1
    reviewer = Membership.objects.get(project=judged, user=users["reviewer"])
    review_decide(membership=reviewer, annotation_id=tie.id, decision="accept")
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    assert [row["chosen"][0]["content"] for row in read_jsonl(snapshot, "dpo.train.jsonl")].count(
        "better than both"
    ) == 2
    review_decide(membership=reviewer, annotation_id=best.id, decision="reject", reason="unhelpful")
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    assert "best" not in [row["completion"][-1]["content"] for row in read_jsonl(snapshot, "sft.train.jsonl")]


def test_a_task_type_with_too_few_clusters_stays_in_train(
    project, users, make_items, django_capture_on_commit_callbacks
):
    words = [f"topic{n}" for n in range(16)]
    rows = [
        {"kind": "demonstration", "prompt": f"{w} {v} question number {i}", "task_type": "open_qa"}
        for i, (w, v) in enumerate((w, v) for w in words for v in words[:2])
    ]
    rows += [
        {"kind": "demonstration", "prompt": f"A rare task about {w}", "task_type": "translation"} for w in words[:3]
    ]
    make_items(project, rows)
    snapshot = build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.1)
    held_out = set(json.loads(snapshot_file(snapshot, "eval_items.json").read()))
    rare = set(Item.objects.filter(task_type="translation").values_list("id", flat=True))
    assert held_out and not held_out & rare
    assert snapshot.counts["eval_none_of"] == ["translation"]
    assert "Eval has none of: translation." in snapshot_file(snapshot, "card.md").read().decode()


def paraphrases(count, seed=7):
    """Prompts in families that share most of their words, so many pairs sit near the near-duplicate threshold."""
    rng = random.Random(seed)
    vocabulary = [f"w{n}" for n in range(400)]
    prompts = []
    while len(prompts) < count:
        base = rng.sample(vocabulary, rng.randint(12, 24))
        for _ in range(rng.randint(1, 6)):
            words = list(base)
            for _ in range(rng.randint(0, 4)):
                words[rng.randrange(len(words))] = rng.choice(vocabulary)
            if rng.random() < 0.3:
                words = words[rng.randint(1, 3) :]
            prompts.append(" ".join(words))
    return list(dict.fromkeys(prompts))[:count]


def test_no_eval_prompt_has_a_train_prompt_at_the_threshold(
    project, users, make_items, django_capture_on_commit_callbacks
):
    prompts = paraphrases(300)
    make_items(
        project,
        [
            {"kind": "demonstration", "prompt": p, "task_type": ["open_qa", "code", "chat"][i % 3]}
            for i, p in enumerate(prompts)
        ],
    )
    sets = {item_id: set(shingles(prompt)) for item_id, prompt in Item.objects.values_list("id", "prompt")}
    near = sum(
        THRESHOLD - 0.15 <= len(a & b) / len(a | b) < THRESHOLD + 0.15
        for i, a in enumerate(sets.values())
        for b in list(sets.values())[i + 1 :]
    )
    assert near > 50  # the data puts many pairs near the threshold, where MinHash LSH misses some
    for seed in range(3):
        snapshot = build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.3, seed=seed)
        held_out = set(json.loads(snapshot_file(snapshot, "eval_items.json").read()))
        assert held_out
        for eval_id in held_out:
            for train_id in sets.keys() - held_out:
                a, b = sets[eval_id], sets[train_id]
                assert len(a & b) / len(a | b) < THRESHOLD, (eval_id, train_id)
    assert "no eval prompt has a train prompt" in snapshot_file(snapshot, "card.md").read().decode()


@pytest.mark.django_db(transaction=True)
def test_a_build_reads_the_data_of_one_moment(judged, users):
    """A review decided while the build runs (from another connection) is not half in it; progress still shows."""
    pending = Annotation.objects.filter(annotator=users["outsider"], kind="demonstration").first()
    reviewer = Membership.objects.get(project=judged, user=users["reviewer"])
    snapshot = snapshot_create(project=judged, user=users["admin"], config={"eval_fraction": 0.0}, queue=False)

    def accept_elsewhere():
        try:
            review_decide(membership=reviewer, annotation_id=pending.id, decision="accept")
        finally:
            connection.close()

    def on_progress(stage, fraction):
        if stage == "mixing":
            accept = threading.Thread(target=accept_elsewhere)
            accept.start()
            accept.join()

    snapshot = snapshot_build(snapshot.id, on_progress=on_progress)
    assert Annotation.objects.get(id=pending.id).review_status == "accepted"
    assert snapshot.status == "ready" and snapshot.stage == "ready"
    assert snapshot.counts["sources"]["sft"]["demonstration"] == 5  # as when the build began


def test_a_multi_turn_demonstration_trains_only_on_what_the_annotator_wrote(
    multiturn, users, django_capture_on_commit_callbacks
):
    import io

    import pyarrow.parquet as pq

    snapshot = build(
        multiturn, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0, system_prompt="Be kind."
    )
    (row,) = read_jsonl(snapshot, "sft.train.jsonl")
    assert row["prompt"] == [{"role": "system", "content": "Be kind."}, *IMPORTED_TURNS]  # context, never a target
    assert row["completion"] == WRITTEN_TURNS and "messages" not in row
    assert pq.read_table(io.BytesIO(snapshot_file(snapshot, "sft.train.parquet").read())).to_pylist() == [row]
    card = snapshot_file(snapshot, "card.md").read().decode()
    assert "`prompt` / `completion`" in card and "loss covers only what annotators wrote" in card


def test_every_row_carries_its_items_tags_and_train_rows_are_counted_per_group(
    judged, users, django_capture_on_commit_callbacks
):
    import io
    from collections import Counter

    import pyarrow as pa
    import pyarrow.parquet as pq

    from annotation.tags import items_tag

    tagged = {"Majority": ["edge_case", "rare"], "Write ransomware": ["rare"], "Say hello to a new colleague": ["rare"]}
    for prompt, tags in tagged.items():
        item = Item.objects.get(prompt=prompt)
        items_tag(project=judged, by=users["admin"], item_ids=[item.id], add=tags, remove=[])
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    rows = read_jsonl(snapshot, "sft.train.jsonl") + read_jsonl(snapshot, "dpo.train.jsonl")
    for row in rows:
        assert row["tags"] == tagged.get(row["prompt"][-1]["content"], []), row["prompt"]
    for name in ("sft.train", "dpo.train", "sft.eval"):
        table = pq.read_table(io.BytesIO(snapshot_file(snapshot, f"{name}.parquet").read()))
        assert table.schema.field("tags").type == pa.list_(pa.string())  # an all-empty column too (sft.eval)
        assert table.to_pylist() == read_jsonl(snapshot, f"{name}.jsonl")

    groups = snapshot.counts["train_groups"]
    assert set(groups) == {"task_type", "harm_category", "domain", "tag"}
    majority = sum(row["prompt"][-1]["content"] == "Majority" for row in rows)
    assert majority == 4  # the preference pair, the better response as SFT, and as a pair against each original
    assert groups["tag"] == dict(Counter(tag for row in rows for tag in row["tags"]))
    assert groups["tag"]["edge_case"] == majority and groups["tag"]["rare"] > majority
    assert groups["harm_category"] == {"cyber": sum(row.get("harm_category") == "cyber" for row in rows)}
    assert groups["harm_category"]["cyber"] >= 1
    assert groups["domain"] == dict(Counter(row["domain"] for row in rows if row["domain"]))
    assert groups["task_type"] == dict(Counter(row["task_type"] for row in rows if row["task_type"]))
    assert f"| rare | {groups['tag']['rare']} |" in snapshot_file(snapshot, "card.md").read().decode()
