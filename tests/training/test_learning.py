"""The pipeline learns what its data teaches, prompt by prompt: one SFT → DPO run on a tiny model built offline,
judged on held-out prompts whose right answer depends on what the prompt says.

Every judged pair of words comes in both orders and no order of it is trained on, so a model that ignores the prompt
scores at best 50% on the DPO preference and the same loss on correct and shuffled SFT replies. The thresholds sit
well inside what ten seeds gave and well outside what a broken loss, a DPO reference other than the model DPO starts
from, or chosen and rejected swapped give."""

import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.training.conftest import one_thread_offline
from training.pipeline.chat_templates import has_generation_markers
from training.pipeline.config import RunConfig, config_from_text
from training.pipeline.tiny_model import build_tiny_model

WORDS = [
    *("apple", "river", "stone", "cloud", "music", "garden", "lamp", "paper", "horse", "window", "candle", "forest"),
    *("silver", "ocean", "tiger", "bread", "chair", "field", "glass", "honey", "island", "jacket", "kettle", "lemon"),
]
BETA = 0.1
RUN = {
    "stages": ["sft", "dpo"],
    "use_cpu": True,
    "max_length": 64,
    "merge": True,
    "lora": {"r": 16, "alpha": 128, "dropout": 0.0},
    "sft": {"max_steps": 300, "learning_rate": 3e-3, "batch_size": 16, "eval_steps": 50, "save_steps": 50},
    "dpo": {
        "max_steps": 200,
        "learning_rate": 2e-3,
        "batch_size": 16,
        "eval_steps": 50,
        "save_steps": 50,
        "beta": BETA,
    },
}


def split_pairs(seed: int) -> tuple[list, list, list]:
    """Judged (64 prompts), eval (32) and train (456) word pairs: 276 unordered pairs, each split whole, in both
    orders."""
    unordered = list(itertools.combinations(WORDS, 2))
    random.Random(seed).shuffle(unordered)
    both = [[pair for a, b in chunk for pair in ((a, b), (b, a))] for chunk in (unordered[:32], unordered[32:48])]
    return both[0], both[1], [pair for a, b in unordered[48:] for pair in ((a, b), (b, a))]


def say(a: str, b: str) -> dict:
    """SFT: say the two words in the other order."""
    return {"prompt": [{"role": "user", "content": f"Say {a} {b}"}], "completion": [assistant(f"{b} {a}")]}


def pick(a: str, b: str) -> dict:
    """DPO: the first word the prompt names is preferred to the second."""
    return {
        "prompt": [{"role": "user", "content": f"Pick {a} {b}"}],
        "chosen": [assistant(a)],
        "rejected": [assistant(b)],
    }


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@dataclass
class Run:
    base: Path
    sft: Path  # the SFT stage's merged model: where DPO starts, and its reference
    final: Path
    out: Path
    snapshot: Path
    config: RunConfig
    metrics: dict
    judged: list


def train(folder: Path, seed: int = 0, **changes) -> Run:
    """Write the snapshot, build the tiny model on its text and run SFT then DPO on it."""
    from training.pipeline.run import run

    judged, held_out, trained = split_pairs(seed)
    snapshot = folder / "snapshot"
    snapshot.mkdir()
    for split, pairs in (("train", trained), ("eval", held_out)):
        write_jsonl(snapshot / f"sft.{split}.jsonl", [say(*pair) for pair in pairs])
        write_jsonl(snapshot / f"dpo.{split}.jsonl", [pick(*pair) for pair in pairs])
    texts = [line for path in sorted(snapshot.glob("*.jsonl")) for line in path.read_text().splitlines()]
    base = build_tiny_model(folder / "base", texts, vocab_size=512, seed=seed)
    config = config_from_text(yaml.safe_dump({**RUN, **changes, "base_model": str(base), "seed": seed}))
    out = folder / "out"
    metrics = run(config, snapshot, out)
    return Run(base, out / "sft" / "merged", Path(metrics["final_model"]), out, snapshot, config, metrics, judged)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    with one_thread_offline():
        yield train(tmp_path_factory.mktemp("learning"))


def completion_logps(model_dir: Path, rows: list[dict], key: str) -> list[tuple[list[float], list[int]]]:
    """Per row: the model's log-probability of each token after the prompt (as DPO scores a completion), and
    whether SFT trains on that token (the assistant's text and its end-of-turn token)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    scored = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, return_dict=True)
        full = tokenizer.apply_chat_template(
            row["prompt"] + row[key], return_dict=True, return_assistant_tokens_mask=True
        )
        start = len(prompt["input_ids"])
        assert full["input_ids"][:start] == prompt["input_ids"]
        ids = torch.tensor([full["input_ids"]])
        with torch.no_grad():
            logps = model(input_ids=ids).logits[0, :-1].log_softmax(-1).gather(1, ids[0, 1:, None])[:, 0]
        scored.append((logps[start - 1 :].tolist(), full["assistant_masks"][start:]))
    return scored


def completion_loss(model_dir: Path, rows: list[dict]) -> float:
    """Mean negative log-likelihood per trained completion token, as SFT's loss counts it."""
    scored = completion_logps(model_dir, rows, "completion")
    total = sum(logp for logps, mask in scored for logp, trained in zip(logps, mask, strict=True) if trained)
    return -total / sum(sum(mask) for _, mask in scored)


def preference_margins(model_dir: Path, rows: list[dict]) -> list[float]:
    """log π(chosen | prompt) − log π(rejected | prompt) per row, from the model alone (no reference)."""
    chosen, rejected = (completion_logps(model_dir, rows, key) for key in ("chosen", "rejected"))
    return [sum(c) - sum(r) for (c, _), (r, _) in zip(chosen, rejected, strict=True)]


def test_sft_learns_replies_that_depend_on_the_prompt(trained):
    judged = [say(*pair) for pair in trained.judged]
    # each prompt with another judged prompt's reply: the same replies, so a prompt-blind model scores both the same
    # (rows come in pairs, so shifting by 2 never gives a prompt its own words back in the other order)
    replies = [row["completion"] for row in judged]
    shuffled = [{**row, "completion": reply} for row, reply in zip(judged, replies[2:] + replies[:2], strict=True)]
    correct = completion_loss(trained.sft, judged)
    wrong = completion_loss(trained.sft, shuffled)
    untrained = completion_loss(trained.base, judged)
    sft = trained.metrics["stages"]["sft"]
    assert sft["eval_loss"] < 0.3 * sft["eval_loss_before"]
    assert correct < 0.3 * untrained, (correct, untrained)
    assert wrong - correct > 2.0, (correct, wrong)


def test_dpo_learns_a_preference_that_depends_on_the_prompt(trained):
    judged = [pick(*pair) for pair in trained.judged]
    before = preference_margins(trained.sft, judged)
    after = preference_margins(trained.final, judged)
    accuracy = sum(margin > 0 for margin in after) / len(after)
    assert accuracy >= 0.7, (accuracy, sum(margin > 0 for margin in before) / len(before))  # prompt-blind: <= 0.5
    gain = (sum(after) - sum(before)) / len(after)
    assert gain > 5.0, gain


def test_dpo_rewards_are_measured_against_the_model_dpo_started_from(trained):
    """TRL's reward is β·(log π − log π_ref); its reported margin must be what the SFT model as reference gives."""
    rows = [json.loads(line) for line in (trained.snapshot / "dpo.eval.jsonl").read_text().splitlines()]
    gained = sum(preference_margins(trained.final, rows)) - sum(preference_margins(trained.sft, rows))
    dpo = trained.metrics["stages"]["dpo"]
    assert dpo["eval_reward_margin"] == pytest.approx(BETA * gained / len(rows), rel=1e-3, abs=1e-3)
    assert dpo["eval_reward_accuracy"] >= 0.8


def test_the_run_writes_its_artifacts_and_a_finished_run_is_not_redone(trained):
    from training.pipeline.run import run

    out = trained.out
    assert (out / "sft" / "adapter" / "adapter_config.json").exists()
    assert (out / "sft" / "merged" / "config.json").exists()
    assert has_generation_markers((out / "sft" / "adapter" / "chat_template.jinja").read_text())
    resolved = yaml.safe_load((out / "resolved_config.yaml").read_text())
    assert resolved["resolved"]["precision"] == "fp32" and resolved["resolved"]["gradient_checkpointing"] is False
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert {row["stage"] for row in logged if "eval_loss" in row} == {"sft", "dpo"}
    sft = trained.metrics["stages"]["sft"]
    assert sft["tokens_per_s"] > 0 and sft["peak_memory_mb"] > 0
    again = run(trained.config, trained.snapshot, out)
    assert again["stages"] == trained.metrics["stages"]
