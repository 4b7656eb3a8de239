"""The pipeline learns, not only runs: on CPU, with a tiny model built offline."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from training.pipeline.config import ConfigError, load_config
from training.pipeline.tiny_model import build_tiny_model

WORDS = [
    *("apple", "river", "stone", "cloud", "music", "garden", "lamp", "paper"),
    *("horse", "window", "candle", "forest", "silver", "ocean", "tiger"),
]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def sft_row(word):
    return {
        "prompt": [{"role": "user", "content": f"Say {word}"}],
        "completion": [{"role": "assistant", "content": f"{word} {word}"}],
    }


def dpo_row(word):
    prompt = [{"role": "user", "content": f"Name {word}"}]
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": f"[{word}]"}],
        "rejected": [{"role": "assistant", "content": f"{word}."}],
    }


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("snapshot")
    rng = random.Random(0)
    pairs = [(a, b) for a in WORDS for b in WORDS if a != b]
    rng.shuffle(pairs)
    write_jsonl(folder / "sft.train.jsonl", [sft_row(pair) for pair in pairs[:180]])
    write_jsonl(folder / "sft.eval.jsonl", [sft_row(pair) for pair in pairs[180:220]])  # unseen pairs of seen words
    train_words, eval_words = WORDS[:11], WORDS[11:]
    write_jsonl(folder / "dpo.train.jsonl", [dpo_row(rng.choice(train_words)) for _ in range(160)])
    write_jsonl(folder / "dpo.eval.jsonl", [dpo_row(w) for w in eval_words * 4])
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, snapshot_dir):
    texts = [line for name in snapshot_dir.glob("*.jsonl") for line in name.read_text().splitlines()]
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), texts, vocab_size=400)


def run_config(tmp_path, tiny, **changes):
    data = {
        "base_model": str(tiny),
        "stages": ["sft"],
        "use_cpu": True,
        "max_length": 64,
        "lora": {"r": 16, "alpha": 128, "dropout": 0.0},
        "sft": {"max_steps": 80, "learning_rate": 1e-2, "batch_size": 16, "eval_steps": 20},
        "dpo": {"max_steps": 60, "learning_rate": 5e-3, "batch_size": 16, "eval_steps": 20, "beta": 0.1},
        **changes,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_bad_configs_name_the_key(tmp_path, tiny):
    with pytest.raises(ConfigError, match="unknown key"):
        run_config(tmp_path, tiny, sft={"learnig_rate": 1})
    with pytest.raises(ConfigError, match="stages"):
        run_config(tmp_path, tiny, stages=["rlhf"])
    (tmp_path / "empty.yaml").write_text("stages: [sft]\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.pipeline",
            "--config",
            str(tmp_path / "empty.yaml"),
            "--snapshot",
            ".",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 2 and "base_model" in result.stderr


def test_the_shipped_example_and_accelerate_configs_parse():
    root = Path(__file__).resolve().parents[2] / "training"
    config = load_config(root / "run.example.yaml")
    assert config.stages == ["sft", "dpo"] and config.lora.enabled and config.dpo.beta == 0.1
    for name in ("ddp", "fsdp", "zero3"):
        assert yaml.safe_load((root / "accelerate" / f"{name}.yaml").read_text())["distributed_type"]


def test_domain_sft_mixes_general_rows_back_in_at_the_configured_share(tmp_path, tiny):
    from datasets import Dataset

    from training.pipeline.run import run
    from training.pipeline.stages import domain_mix

    rows = [{**sft_row(("lease", w)), "domain": "legal"} for w in WORDS[:10]] * 3
    rows += [{**sft_row((w, "x")), "domain": "general"} for w in WORDS] * 7
    mixed = domain_mix(Dataset.from_list(rows), "legal", 0.2, seed=0)
    assert len(mixed) == 30 + 8 and mixed.column_names == ["prompt", "completion", "domain"]
    write_jsonl(tmp_path / "sft.train.jsonl", rows)
    config = run_config(tmp_path, tiny, stages=["domain_sft"], domain_sft={"domain": "legal", "max_steps": 2})
    metrics = run(config, tmp_path, tmp_path / "out")
    assert {key: metrics["stages"]["domain_sft"][key] for key in ("train_rows", "domain_rows", "general_rows")} == {
        "train_rows": 38,
        "domain_rows": 30,
        "general_rows": 8,
    }
    with pytest.raises(ConfigError, match="domain_sft.domain"):
        run_config(tmp_path, tiny, stages=["domain_sft"])


def test_snapshots_with_messages_rows_still_train(tmp_path, tiny):
    """Snapshots built before SFT rows were prompt–completion hold `messages`."""
    from training.pipeline.run import run

    rows = [{"messages": [*row["prompt"], *row["completion"]]} for row in map(sft_row, WORDS)]
    write_jsonl(tmp_path / "sft.train.jsonl", rows)
    metrics = run(run_config(tmp_path, tiny, sft={"max_steps": 1}), tmp_path, tmp_path / "out")
    assert metrics["stages"]["sft"]["train_rows"] == len(WORDS)
