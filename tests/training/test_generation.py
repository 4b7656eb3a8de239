"""Batched generation for model evaluation, on the CPU with a tiny model built offline."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.conftest import one_thread_offline
from training.pipeline.generate import GenerationError, Sampling, generate, generate_file, main, settings_path
from training.pipeline.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]
WORDS = [
    *("apple", "river", "stone", "cloud", "music", "garden", "lamp", "paper"),
    *("horse", "window", "candle", "forest", "silver", "ocean", "tiger"),
]
GREEDY = Sampling(batch_size=5, max_new_tokens=12)


def prompt_rows() -> list[dict]:
    """Prompts of 1 to 15 words, in no order of length, with the keys evaluation passes through."""
    return [
        {
            "id": f"p{n}",
            "messages": [{"role": "user", "content": " ".join(WORDS[: 1 + (n * 7) % len(WORDS)])}],
            "task_type": ["chat", "code"][n % 2],
            "safety": "should_refuse" if n == 3 else None,
            "paraphrase_group": n // 4,
        }
        for n in range(12)
    ]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def responses(answers: list[dict]) -> list[str]:
    return [answer["response"] for answer in answers]


def stops_sooner(folder: Path) -> Path:
    """Make the end-of-turn token likelier, so that answers in one batch end at different lengths."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        model.lm_head.weight[model.config.eos_token_id] *= 2
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    with one_thread_offline():
        texts = [f"Say {a} {b}. {b} {a}" for a in WORDS for b in WORDS]
        yield str(stops_sooner(build_tiny_model(tmp_path_factory.mktemp("tiny"), texts, vocab_size=400)))


def test_batched_greedy_answers_equal_one_by_one_answers(tiny):
    rows = prompt_rows()
    batched, settings = generate(tiny, rows, GREEDY, use_cpu=True)
    alone = [generate(tiny, [row], Sampling(batch_size=1, max_new_tokens=12), use_cpu=True)[0][0] for row in rows]
    assert [answer["id"] for answer in batched] == [row["id"] for row in rows]
    assert responses(batched) == responses(alone)
    assert [a["tokens"] for a in batched] == [a["tokens"] for a in alone]
    assert len(set(responses(batched))) > 6
    assert settings["finished"]["stop"] >= 6 and settings["finished"]["length"] >= 1
    assert all((a["tokens"] == 12) == (a["finish"] == "length") for a in batched)


def test_the_answers_file_keeps_input_order_and_keys_and_the_settings_are_recorded(tiny, tmp_path):
    rows = prompt_rows()
    out = tmp_path / "answers.jsonl"
    generate_file(tiny, write_jsonl(tmp_path / "prompts.jsonl", rows), out, GREEDY, use_cpu=True)
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert [{k: a[k] for k in rows[0]} for a in answers] == rows
    assert all(set(a) == set(rows[0]) | {"response", "tokens", "finish"} for a in answers)
    settings = json.loads(settings_path(out).read_text())
    assert settings_path(out).name == "answers.settings.json"
    assert settings["model"] == tiny and settings["engine"] == "transformers" and settings["device"] == "cpu"
    assert {k: settings[k] for k in ("temperature", "top_p", "seed", "seeds", "batch_size", "max_new_tokens")} == {
        "temperature": 0.0,
        "top_p": 1.0,
        "seed": 0,
        "seeds": [0],
        "batch_size": 5,
        "max_new_tokens": 12,
    }
    assert settings["generation"]["do_sample"] is False
    assert settings["generated_tokens"] == sum(a["tokens"] for a in answers)
    assert settings["tokens_per_s"] > 0 and settings["rows"] == len(rows)
    assert settings["libraries"]["transformers"] and settings["libraries"]["torch"]


def test_sampling_reproduces_with_the_same_seed_and_samples_differ(tiny):
    rows = prompt_rows()
    hot = Sampling(batch_size=5, max_new_tokens=12, temperature=1.5, seed=7, samples=2)
    first, settings = generate(tiny, rows, hot, use_cpu=True)
    again, _ = generate(tiny, rows, hot, use_cpu=True)
    assert responses(first) == responses(again)
    labels = [(a["id"], a["sample"], a["seed"]) for a in first[:4]]
    assert labels == [("p0", 0, 7), ("p0", 1, 8), ("p1", 0, 7), ("p1", 1, 8)]
    assert settings["seeds"] == [7, 8] and settings["generation"]["top_k"] == 0
    pairs = list(zip(first[::2], first[1::2], strict=True))
    assert sum(a["response"] != b["response"] for a, b in pairs) >= len(rows) - 1
    other, _ = generate(tiny, rows, Sampling(**{**hot.__dict__, "seed": 9}), use_cpu=True)
    assert responses(other) != responses(first)


def test_an_adapter_folder_answers_as_its_merged_model(tiny, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lora = LoraConfig(r=8, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False)
    adapted = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny), lora)
    adapted.save_pretrained(tmp_path / "adapter")
    adapted.merge_and_unload().save_pretrained(tmp_path / "merged")
    AutoTokenizer.from_pretrained(tiny).save_pretrained(tmp_path / "merged")
    rows = prompt_rows()
    via_adapter, settings = generate(str(tmp_path / "adapter"), rows, GREEDY, use_cpu=True)
    assert settings["base_model"] == tiny
    assert responses(via_adapter) == responses(generate(str(tmp_path / "merged"), rows, GREEDY, use_cpu=True)[0])
    assert responses(via_adapter) != responses(generate(tiny, rows, GREEDY, use_cpu=True)[0])


def test_the_command_line_writes_answers_and_settings(tiny, tmp_path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", prompt_rows()[:4])
    out = tmp_path / "out" / "answers.jsonl"
    command = [sys.executable, "-m", "training.pipeline.generate", "--model", tiny, "--prompts", str(prompts)]
    command += ["--out", str(out), "--batch-size", "2", "--max-new-tokens", "6", "--use-cpu"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 4
    assert json.loads(settings_path(out).read_text())["max_new_tokens"] == 6


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": 3, "messages": []}', 'line 3: "messages" must be a non-empty list'),
        (
            '{"id": 3, "messages": [{"role": "assistant", "content": "hi"}]}',
            "line 3: the last message must be the user",
        ),
        ('{"id": 1, "messages": [{"role": "user", "content": "hi"}]}', "line 3: id 1 appears twice"),
        ("{not json", "line 3: not JSON"),
    ],
)
def test_a_bad_prompts_line_is_named_and_exits_2(tmp_path, capsys, line, message):
    good = [json.dumps({"id": n, "messages": [{"role": "user", "content": "hi"}]}) for n in (1, 2)]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join([*good, line]) + "\n")
    code = main(["--model", "unused", "--prompts", str(prompts), "--out", str(tmp_path / "a.jsonl")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "a.jsonl").exists()


def test_greedy_samples_are_refused():
    with pytest.raises(GenerationError, match="needs --temperature > 0"):
        generate("unused", [{"id": 1, "messages": [{"role": "user", "content": "hi"}]}], Sampling(samples=2))


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_asking_for_vllm_without_it_is_a_clear_error():
    with pytest.raises(GenerationError, match="vLLM is not installed"):
        generate("unused", [{"id": 1, "messages": [{"role": "user", "content": "hi"}]}], GREEDY, engine="vllm")
