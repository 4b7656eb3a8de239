"""`accelerate launch` with two processes (DDP over gloo on CPU) runs SFT → DPO and produces what one process
produces: the same files, the same counts, and the same weights when the global batch is the same."""

import json
import os
import subprocess
from pathlib import Path

import yaml

from tests.training.test_pipeline import WORDS, dpo_row, sft_row, write_jsonl
from training.pipeline.config import load_config
from training.pipeline.launch import pipeline_command
from training.pipeline.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]


def train(tmp_path: Path, name: str, snapshot: Path, tiny: Path, *, processes: int) -> Path:
    batch = {"max_steps": 3, "batch_size": 4 // processes, "logging_steps": 1}
    settings = {"base_model": str(tiny), "use_cpu": True, "max_length": 64, "lora": {"dropout": 0.0}}
    settings |= {"launch": {"processes": processes}, "sft": batch, "dpo": batch}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings))
    out = tmp_path / name
    command = pipeline_command(load_config(path), config_path=path, snapshot=snapshot, out=out)
    assert ("accelerate.commands.launch" in command) == (processes > 1)
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def files(out: Path) -> set[str]:
    return {str(path.relative_to(out)) for path in out.rglob("*") if path.is_file() and "checkpoints" not in path.parts}


def test_two_processes_train_sft_then_dpo_like_one(tmp_path):
    from safetensors.torch import load_file

    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    write_jsonl(snapshot / "sft.train.jsonl", [sft_row((a, b)) for a in WORDS[:4] for b in WORDS[4:8]])
    write_jsonl(snapshot / "dpo.train.jsonl", [dpo_row(word) for word in WORDS])
    tiny = build_tiny_model(tmp_path / "tiny", [line for f in snapshot.iterdir() for line in f.read_text().split()])
    one = train(tmp_path, "one", snapshot, tiny, processes=1)
    two = train(tmp_path, "two", snapshot, tiny, processes=2)

    assert files(one) == files(two)
    first, second = (json.loads((out / "metrics.json").read_text()) for out in (one, two))
    assert (first["world_size"], second["world_size"]) == (1, 2)
    for stage in ("sft", "dpo"):
        a, b = first["stages"][stage], second["stages"][stage]
        assert a.keys() == b.keys()
        assert (b["effective_batch"], b["steps"]) == (a["effective_batch"], a["steps"]) == (4, 3)
        assert b["train_tokens"] == a["train_tokens"]  # counted over both processes
    logged = [json.loads(line) for line in (two / "train_log.jsonl").read_text().splitlines()]
    assert len([row for row in logged if "loss" in row]) == 6  # one line a step, from the main process only
    weights = [load_file(Path(m["final_model"]) / "model.safetensors") for m in (first, second)]
    base = load_file(tiny / "model.safetensors")
    assert max(float((weights[0][k] - base[k]).abs().max()) for k in base) > 1e-4  # it trained
    assert max(float((weights[0][k] - weights[1][k]).abs().max()) for k in base) < 1e-5
