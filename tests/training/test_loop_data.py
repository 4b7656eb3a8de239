"""Better data from the loop: on-policy pairs for prompts without preference data, safety pairs from a model's own
mistakes, and the DPO rows that say where they came from."""

import json

import pyarrow.parquet as pq
import pytest

from annotation.errors import InvalidInput
from annotation.models import Annotation, Item, Membership
from annotation.review import review_decide
from tests.training.conftest import build, work
from training.loop_data import onpolicy_items_create, onpolicy_prompts, safety_pairs_create
from training.models import ModelVersion
from training.snapshots.service import snapshot_file

pytestmark = pytest.mark.django_db

REFUSED = "I'm sorry, but I can't help with that."
COMPLIED = "Sure. Step one: gather what you need, then follow these instructions carefully to the end."


@pytest.fixture
def champion(project):
    return ModelVersion.objects.create(project=project, name="base", base_model="tiny", status="champion")


def samples(prompts, texts=lambda n: ("A first answer", "A second answer")):
    """generate.py's rows with --samples 2 for `prompts`: every key back, with two answers and their seeds."""
    rows = []
    for n, prompt in enumerate(prompts):
        for sample, text in enumerate(texts(n)):
            rows.append({**prompt, "response": f"{text} to {prompt['id']}", "sample": sample, "seed": 10 + sample})
    return rows


def test_prompts_that_have_preference_data_are_not_offered(judged, make_items):
    make_items(
        judged,
        [
            {
                "kind": "preference",
                "prompt": "  Write a function that   adds two numbers",
                "responses": [{"text": "x"}, {"text": "y"}],
            }
        ],
    )
    offered = onpolicy_prompts(judged, limit=10)
    assert [row["messages"][0]["content"] for row in offered] == [
        "Write a function that adds two numbers please",
        "Say hello to a new colleague",
    ]
    first = offered[0]
    assert (first["task_type"], first["domain"]) == ("code", "dev")
    assert first["id"] == Item.objects.get(prompt="Write a function that adds two numbers please").id
    assert onpolicy_prompts(judged, limit=1) == offered[:1]


def test_on_policy_items_enter_the_preference_queue_once(judged, champion):
    prompts = onpolicy_prompts(judged, limit=10)
    rows = samples(prompts[:2], lambda n: ("Same  answer", "Same answer") if n == 1 else ("Short", "Longer answer"))
    (item,) = onpolicy_items_create(project=judged, model_version=champion, sample_rows=rows)
    first = prompts[0]["id"]
    assert item.kind == "preference" and item.open_slots == judged.overlap
    assert [r["text"] for r in item.responses] == [f"Short to {first}", f"Longer answer to {first}"]
    assert item.meta == {
        "source": "model",
        "origin": "on_policy",
        "model_version": champion.id,
        "seeds": [10, 11],
        "item_id": first,
    }
    assert onpolicy_items_create(project=judged, model_version=champion, sample_rows=rows) == []
    swapped = [{**row, "sample": 1 - row["sample"]} for row in rows]
    assert onpolicy_items_create(project=judged, model_version=champion, sample_rows=swapped) == []
    assert onpolicy_prompts(judged, limit=10) == prompts[1:]  # the pair now holds the first prompt


def test_a_prompt_without_two_samples_creates_nothing(judged, champion):
    rows = samples(onpolicy_prompts(judged, limit=10))
    with pytest.raises(InvalidInput) as caught:
        onpolicy_items_create(project=judged, model_version=champion, sample_rows=rows[:-1])
    assert [error["id"] for error in caught.value.errors] == [rows[-1]["id"]]
    assert not Item.objects.filter(meta__origin="on_policy").exists()


@pytest.fixture
def cases(project, users, make_items):
    """Refusal cases answered by ann1: the first three answers accepted, the last one still waiting for review."""
    rows = [
        {"kind": "refusal", "prompt": "How do I bake bread?", "safety": "should_comply", "task_type": "open_qa"},
        {"kind": "refusal", "prompt": "How do I pick a lock?", "safety": "should_comply"},
        {"kind": "refusal", "prompt": "Write ransomware", "safety": "should_refuse", "harm_category": "cyber"},
        {"kind": "refusal", "prompt": "Make a weapon", "safety": "should_refuse", "harm_category": "weapons"},
    ]
    items = make_items(project, rows)
    human = {
        items[0].id: {"response": "Mix flour, water, salt and yeast, knead, let it rise, then bake it hot."},
        items[1].id: {"response": "Sure: a pin and a tension wrench; practise on a lock you own."},
        items[2].id: {
            "response": "I can't help with that: ransomware harms people.",
            "refusal_style": "decline_explain",
        },
    }
    pending = {"response": "No.", "refusal_style": "decline_explain"}
    work(project, users["ann1"], lambda item: human.get(item.id, pending))
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    for annotation in Annotation.objects.exclude(item=items[3]):
        review_decide(membership=reviewer, annotation_id=annotation.id, decision="accept")
    return items, human


def answer(item, response, **extra):
    return {"id": item.id, "messages": [{"role": "user", "content": item.prompt}], "response": response} | extra


def test_a_safety_mistake_becomes_a_pair_against_the_human_answer(project, cases, champion):
    (bread, lock, ransomware, weapon), human = cases
    rows = [
        answer(bread, REFUSED),  # over-refusal: a pair
        answer(lock, COMPLIED),  # right call: nothing
        answer(ransomware, COMPLIED),  # complied with a should-refuse prompt: a pair
        answer(weapon, COMPLIED),  # no accepted human answer: nothing
        {
            **answer(bread, REFUSED),
            "id": "p7",
            "paraphrase_of": bread.id,
            "messages": [{"role": "user", "content": "Bread how?"}],
        },
    ]
    pairs = safety_pairs_create(project=project, model_version=champion, answer_rows=rows, seed=1)
    assert [pair.meta["item_id"] for pair in pairs] == [bread.id, ransomware.id, bread.id]
    for pair, case in zip(pairs, [bread, ransomware, bread], strict=True):
        side = pair.meta["human_side"]
        texts = [response["text"] for response in pair.responses]
        assert texts[side] == human[case.id]["response"] and texts[1 - side] in (REFUSED, COMPLIED)
        assert pair.kind == "preference" and pair.meta["origin"] == "safety_mistake"
        assert pair.meta["model_version"] == champion.id and pair.meta["source"] == "model"
    assert {pair.meta["human_side"] for pair in pairs} == {0, 1}
    assert pairs[0].messages == [{"role": "user", "content": bread.prompt}] and pairs[0].task_type == "open_qa"
    assert pairs[2].messages == [{"role": "user", "content": "Bread how?"}]
    for seed in (1, 2):
        assert safety_pairs_create(project=project, model_version=champion, answer_rows=rows, seed=seed) == []


def test_model_versions_of_another_project_are_refused(project, cases, champion, users):
    from annotation.projects import project_create

    other = project_create(creator=users["admin"], name="Other", slug="other")
    (bread, *_), _ = cases
    with pytest.raises(InvalidInput):
        safety_pairs_create(project=other, model_version=champion, answer_rows=[answer(bread, REFUSED)])


def test_a_judged_on_policy_pair_is_exported_with_its_origin(
    judged, champion, users, django_capture_on_commit_callbacks
):
    rows = samples(onpolicy_prompts(judged, limit=1))
    (item,) = onpolicy_items_create(project=judged, model_version=champion, sample_rows=rows)
    for name in ("ann1", "ann2", "outsider"):
        work(judged, users[name], lambda _: {"choice": 1, "strength": "clear"})
    snapshot = build(judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    with snapshot_file(snapshot, "dpo.train.jsonl") as handle:
        dpo = [json.loads(line) for line in handle.read().decode().splitlines()]
    with snapshot_file(snapshot, "dpo.train.parquet") as handle:
        assert pq.read_table(handle).column("origin").to_pylist() == [row["origin"] for row in dpo]
    origins = {row["item_id"]: row["origin"] for row in dpo}
    assert origins.pop(item.id) == "on_policy"
    assert origins and set(origins.values()) == {"human"}
    (row,) = [row for row in dpo if row["item_id"] == item.id]
    assert row["chosen"][0]["content"] == item.responses[1]["text"]
