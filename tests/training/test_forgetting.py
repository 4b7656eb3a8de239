"""Forgetting after a domain stage: the general part of the eval split is scored for candidate and champion, and a
drop beyond the policy's margin blocks automatic promotion. The last test trains a deliberately forgetful candidate
for real (a tiny model, domain rows only) and sees it blocked."""

import json
import random

import pytest
import yaml

from tests.training.conftest import one_thread_offline, work
from tests.training.test_loop import candidate_wins, waiting
from tests.training.test_model_review import pick
from training.decisions import cycle_decide
from training.evaluation import evaluate, forgetting
from training.pipeline.config import load_config
from training.pipeline.generate import Sampling, generate
from training.pipeline.tiny_model import build_tiny_model

WORDS = [
    *("apple", "river", "stone", "cloud", "music", "garden", "lamp", "paper", "horse", "window", "candle", "forest"),
    *("silver", "ocean", "tiger", "bread", "chair", "field", "glass", "honey", "island", "jacket", "kettle", "lemon"),
]


def labelled(prompt: str, label: str, domain: str, response: str | None = None) -> dict:
    return {
        "id": prompt,
        "messages": [{"role": "user", "content": prompt}],
        "task_type": "classification",
        "domain": domain,
        "tags": [],
        "references": [label],
        "response": label if response is None else response,
    }


def general(word: str, response: str | None = None) -> dict:
    return labelled(f"Is {word} a noun? Answer yes or no.", "yes", "", response)


def legal(word: str, response: str | None = None) -> dict:
    return labelled(f"Legal clause on {word}: which kind?", "lease", "legal", response)


def test_a_drop_on_the_general_items_beyond_the_margin_is_forgetting():
    champion = evaluate([*(general(w) for w in WORDS[:10]), *(legal(w, "no") for w in WORDS[:5])], domain="legal")
    kept = evaluate([*(general(w) for w in WORDS[:10]), *(legal(w) for w in WORDS[:5])], domain="legal")
    lost = evaluate([*(general(w, "lease") for w in WORDS[:10]), *(legal(w) for w in WORDS[:5])], domain="legal")
    assert champion["general"]["n"] == 10 and champion["general"]["score"]["value"] == 1.0
    assert kept["by_domain"]["legal"]["score"]["value"] == 1.0 and champion["by_domain"]["legal"]["score"]["value"] == 0

    held = forgetting(kept, champion, domain="legal", margin=0.05)
    assert held["judged"] and not held["forgot"] and held["drop"] == 0 and "No forgetting" in held["message"]
    verdict = forgetting(lost, champion, domain="legal", margin=0.05)
    assert verdict["judged"] and verdict["forgot"] and verdict["drop"] == 1.0
    assert verdict["message"].startswith("Forgot general skills") and "from 100.0% to 0.0%" in verdict["message"]

    one_wrong = evaluate([*(general(w) for w in WORDS[:9]), general(WORDS[9], "no")], domain="legal")
    assert not forgetting(one_wrong, champion, domain="legal", margin=0.1)["forgot"]  # a 10-point drop is the margin
    assert forgetting(one_wrong, champion, domain="legal", margin=0.09)["forgot"]


def test_too_few_general_items_are_not_judged_and_never_block():
    few = evaluate([*(general(w, "lease") for w in WORDS[:3]), *(legal(w) for w in WORDS[:8])], domain="legal")
    right = evaluate([*(general(w) for w in WORDS[:3]), *(legal(w) for w in WORDS[:8])], domain="legal")
    verdict = forgetting(few, right, domain="legal", margin=0.05)
    assert not verdict["judged"] and not verdict["forgot"] and verdict["drop"] is None
    assert verdict["message"].startswith("Forgetting not judged: 3 eval items")


def test_paraphrase_rows_and_tags_are_scored_apart():
    rows = [general(w) | {"tags": ["rare"] if i < 2 else []} for i, w in enumerate(WORDS[:6])]
    rows.append(general("apple", "no") | {"id": "p1", "paraphrase_of": rows[0]["id"]})
    found = evaluate(rows)
    assert found["overall"]["n"] == 6 and found["overall"]["score"]["value"] == 1.0 and found["general"] is None
    assert found["by_tag"]["rare"]["n"] == 2 and not found["by_tag"]["rare"]["score"]["enough"]
    assert found["overall"]["by_task_type"]["classification"]["accuracy"]["n"] == 6


@pytest.mark.django_db(transaction=True)
def test_forgetting_blocks_automatic_promotion_and_rejects_once_all_is_judged(project, users):
    champion = evaluate([general(w) for w in WORDS[:10]], domain="legal")
    candidate = evaluate([general(w, "lease") for w in WORDS[:10]], domain="legal")
    cycle = blocked_cycle(project, users, forgetting(candidate, champion, domain="legal", margin=0.05))
    work(project, users["ann1"], pick(candidate_wins))
    cycle = cycle_decide(cycle)
    assert cycle.status == "waiting" and "not promoted on its own. Forgot general skills" in cycle.results["verdict"]
    work(project, users["ann2"], pick(candidate_wins))
    cycle = cycle_decide(cycle)
    assert cycle.results["decision"]["decision"] == "rejected"
    assert "Forgot general skills" in cycle.candidate.decisions.get().reason


def blocked_cycle(project, users, verdict: dict):
    cycle = waiting(project, users)
    cycle.results["evaluation"] = {"stages": ["domain_sft"], "domain": "legal", "forgetting": verdict}
    cycle.save(update_fields=["results"])
    return cycle


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def sft(row: dict) -> dict:
    return {
        "prompt": row["messages"],
        "completion": [{"role": "assistant", "content": row["references"][0]}],
        "domain": row["domain"],
    }


def train(tmp_path, name: str, base, rows: list[dict], stage: dict) -> str:
    from training.pipeline.run import run

    folder = tmp_path / f"{name}-snapshot"
    folder.mkdir()
    write_jsonl(folder / "sft.train.jsonl", [sft(row) for row in rows])
    config = {
        "base_model": str(base),
        "use_cpu": True,
        "max_length": 48,
        "merge": True,
        "lora": {"r": 16, "alpha": 128, "dropout": 0.0},
        **stage,
    }
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return run(load_config(tmp_path / f"{name}.yaml"), folder, tmp_path / name)["final_model"]


@pytest.mark.django_db(transaction=True)
def test_a_candidate_trained_only_on_domain_rows_forgets_and_is_blocked(project, users, tmp_path):
    words = WORDS[:]
    random.Random(0).shuffle(words)
    seen, unseen = words[:16], words[16:]
    rows = [row(w) for w in seen for row in (general, legal)]
    held_out = [row(w) for w in unseen for row in (general, legal)]
    steps = {"max_steps": 60, "learning_rate": 1e-2, "batch_size": 16}
    with one_thread_offline():
        base = build_tiny_model(tmp_path / "tiny", [json.dumps(r) for r in rows + held_out], vocab_size=300)
        champion = train(tmp_path, "champion", base, rows, {"stages": ["sft"], "sft": steps})
        # domain rows only: the general share that protects a domain stage is switched off; the control mixes half
        models = {"champion": champion}
        for name, share in (("forgetful", 0.0), ("mixed", 0.5)):
            stage = {"stages": ["domain_sft"], "domain_sft": {"domain": "legal", "general_share": share, **steps}}
            models[name] = train(tmp_path, name, champion, rows, stage)
        prompts = [{key: r[key] for key in r if key != "response"} for r in held_out]
        answered = {
            name: generate(path, prompts, Sampling(max_new_tokens=6), use_cpu=True)[0] for name, path in models.items()
        }
    found = {name: evaluate(answers, domain="legal") for name, answers in answered.items()}
    assert found["champion"]["general"]["score"]["value"] >= 0.75, answered["champion"]
    for name in ("forgetful", "mixed"):
        assert found[name]["by_domain"]["legal"]["score"]["value"] >= 0.75, answered[name]
    # the control keeps most of what it knew (exactly how much varies with the CPU's floating-point arithmetic)
    assert found["mixed"]["general"]["score"]["value"] >= 0.75, answered["mixed"]
    verdict = forgetting(found["forgetful"], found["champion"], domain="legal", margin=0.05)
    assert verdict["forgot"], verdict["message"]

    cycle = blocked_cycle(project, users, verdict)
    work(project, users["ann1"], pick(candidate_wins))
    work(project, users["ann2"], pick(candidate_wins))
    cycle = cycle_decide(cycle)
    assert cycle.results["decision"]["decision"] == "rejected" and cycle.candidate.status == "rejected"
