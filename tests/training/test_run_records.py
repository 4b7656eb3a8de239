"""A run's records can be trusted: a resumed run is the same run, checkpoints come when asked, metrics say what
was trained on and how, trainable weights keep fp32 masters, and a run can start from another run's model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.training.test_pipeline import WORDS, dpo_row, sft_row, write_jsonl
from training.pipeline.config import ConfigError, config_from_text
from training.pipeline.records import ResumeRefused, snapshot_hash
from training.pipeline.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def snapshot(tmp_path):
    folder = tmp_path / "snapshot"
    folder.mkdir()
    pairs = [(a, b) for a in WORDS[:6] for b in WORDS[6:12]]
    write_jsonl(folder / "sft.train.jsonl", [sft_row(pair) for pair in pairs])
    write_jsonl(folder / "sft.eval.jsonl", [sft_row((b, a)) for a, b in pairs[:8]])
    write_jsonl(folder / "dpo.train.jsonl", [dpo_row(word) for word in WORDS * 2])
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    texts = [json.dumps(sft_row((a, b))) + json.dumps(dpo_row(a)) for a in WORDS for b in WORDS]
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), texts, vocab_size=400)


def config(tiny, **changes):
    data = {"base_model": str(tiny), "stages": ["sft"], "use_cpu": True, "max_length": 64, "lora": {"dropout": 0.0}}
    data["sft"] = {"max_steps": 2, "batch_size": 4, "logging_steps": 1}
    data["dpo"] = {"max_steps": 2, "batch_size": 4}
    return config_from_text(yaml.safe_dump({**data, **changes}))


def test_a_crashed_stage_resumes_from_its_last_checkpoint(tmp_path, tiny, snapshot):
    from training.pipeline.run import run

    (snapshot / "sft.eval.jsonl").unlink()
    same = config(tiny, sft={"max_steps": 6, "save_steps": 2, "batch_size": 4, "logging_steps": 1})
    out = tmp_path / "out"
    whole = run(same, snapshot, out)["stages"]["sft"]
    for done in (out / "sft" / "metrics.json", out / "metrics.json", out / "train_log.jsonl"):
        done.unlink()  # as if the process died just after its checkpoint at step 4
    for checkpoint in (out / "sft" / "checkpoints" / "checkpoint-6").iterdir():
        checkpoint.unlink()
    (out / "sft" / "checkpoints" / "checkpoint-6").rmdir()
    resumed = run(same, snapshot, out)["stages"]["sft"]
    assert (resumed["steps"], resumed["resumed_from_step"]) == (6, 4)
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert sorted({row["step"] for row in logged}) == [5, 6]  # steps 1-4 come from the checkpoint, not retraining
    assert 0 < resumed["train_tokens"] < 0.5 * whole["train_tokens"]  # tokens of steps 5-6 only, not of 1-6


def test_resume_refuses_a_changed_config_snapshot_or_code_and_force_restart_starts_over(
    tmp_path, tiny, snapshot, monkeypatch
):
    from training.pipeline import records
    from training.pipeline.run import run

    out = tmp_path / "out"
    run(config(tiny), snapshot, out)
    with pytest.raises(ResumeRefused, match=r"sft\.max_steps: 2 → 3.*--force-restart"):
        run(config(tiny, sft={"max_steps": 3, "batch_size": 4}), snapshot, out)
    write_jsonl(snapshot / "sft.train.jsonl", [sft_row(("stone", "lamp"))] * 8)
    with pytest.raises(ResumeRefused, match="snapshot_hash"):
        run(config(tiny), snapshot, out)
    monkeypatch.setattr(records, "code_version", lambda: "changed")
    with pytest.raises(ResumeRefused, match="code_version"):
        run(config(tiny), snapshot, out)
    monkeypatch.undo()
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**config(tiny).as_dict(), "sft": {"max_steps": 3, "batch_size": 4}}))
    command = [sys.executable, "-m", "training.pipeline", "--config", str(path), "--snapshot", str(snapshot)]
    command += ["--out", str(out)]
    refused = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 3 and "resume refused" in refused.stderr and "sft.max_steps" in refused.stderr
    restarted = subprocess.run([*command, "--force-restart"], capture_output=True, text=True, cwd=ROOT)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert json.loads((out / "metrics.json").read_text())["stages"]["sft"]["steps"] == 3


def test_metrics_record_the_data_code_libraries_batch_and_memory_of_each_stage(tmp_path, tiny, snapshot):
    from training.pipeline.run import run

    settings = config(tiny, stages=["sft", "dpo"], dpo={"max_steps": 2, "batch_size": 2, "grad_accum": 3})
    metrics = run(settings, snapshot, tmp_path / "out")
    assert metrics["snapshot_hash"] == snapshot_hash(snapshot) and len(metrics["code_version"]) == 16
    assert {"torch", "transformers", "trl", "peft", "accelerate", "datasets"} <= set(metrics["libraries"])
    assert metrics["world_size"] == 1
    sft, dpo = metrics["stages"]["sft"], metrics["stages"]["dpo"]
    assert (sft["effective_batch"], sft["learning_rate"]) == (4, 2e-4)
    assert (dpo["effective_batch"], dpo["learning_rate"]) == (6, 5e-5)
    for stage in (sft, dpo):
        assert stage["train_tokens"] > 0 and stage["tokens_per_s"] > 0 and stage["peak_memory_mb"] > 100
    assert "eval_reward_accuracy_before" not in dpo  # policy = reference before DPO: that figure meant nothing
    resolved = yaml.safe_load((tmp_path / "out" / "resolved_config.yaml").read_text())
    assert resolved["snapshot_hash"] == metrics["snapshot_hash"] and resolved["resolved"]["precision"] == "fp32"


def test_checkpoints_come_every_save_steps(tmp_path, tiny, snapshot):
    from training.pipeline.run import run

    steps = {"max_steps": 4, "batch_size": 4, "eval_steps": 1, "save_steps": 2}
    run(config(tiny, sft=steps), snapshot, tmp_path / "out")
    saved = sorted(path.name for path in (tmp_path / "out" / "sft" / "checkpoints").glob("checkpoint-*"))
    assert saved == ["checkpoint-2", "checkpoint-4"]
    with pytest.raises(ConfigError, match=r"sft\.save_steps \(3\) must be a multiple of sft\.eval_steps \(2\)"):
        run(config(tiny, sft={**steps, "eval_steps": 2, "save_steps": 3}), snapshot, tmp_path / "other")


def changed_share(before: Path, after: Path) -> float:
    from safetensors.torch import load_file

    old, new = load_file(before / "model.safetensors"), load_file(after / "model.safetensors")
    layers = [name for name in old if ".layers." in name]  # embedding rows of unseen tokens get no update
    changed = sum(int((old[name].to(new[name].dtype) != new[name]).sum()) for name in layers)
    return changed / sum(old[name].numel() for name in layers)


def test_full_fine_tuning_in_bf16_keeps_fp32_master_weights(tmp_path, tiny, snapshot):
    """At a full-fine-tuning learning rate, bf16 weights would round most updates away; fp32 masters keep them."""
    from training.pipeline.run import run

    settings = config(tiny, precision="bf16", lora={"enabled": False}, sft={"max_steps": 2, "batch_size": 4})
    metrics = run(settings, snapshot, tmp_path / "out")
    assert metrics["resolved"]["precision"] == "bf16" and metrics["stages"]["sft"]["learning_rate"] == 2e-5
    assert changed_share(tiny, Path(metrics["final_model"])) > 0.9


def test_a_run_starts_from_another_runs_model_adapter_or_merged(tmp_path, tiny, snapshot):
    """The first run's final adapter (over the configured base) and the second's merged model both load as the
    start of the next run; each run starts from what the previous one learned."""
    from peft import AutoPeftModelForCausalLM

    from training.pipeline.run import run

    first = run(config(tiny, sft={"max_steps": 6, "batch_size": 4, "learning_rate": 1e-2}), snapshot, tmp_path / "1")
    assert first["final_model"].endswith("sft/adapter") and first["final_model_base"] == str(tiny)
    AutoPeftModelForCausalLM.from_pretrained(first["final_model"])
    second = run(config(first["final_model"], stages=["sft", "dpo"]), snapshot, tmp_path / "2")
    assert second["stages"]["sft"]["eval_loss_before"] == pytest.approx(first["stages"]["sft"]["eval_loss"], rel=1e-3)
    assert second["final_model"].endswith("dpo/merged") and second["final_model_base"] is None
    third = run(config(second["final_model"]), snapshot, tmp_path / "3")
    assert third["stages"]["sft"]["eval_loss_before"] < first["stages"]["sft"]["eval_loss_before"]


def test_a_stage_takes_trl_config_fields_and_names_an_unknown_one(tmp_path, tiny, snapshot):
    from training.pipeline.run import run

    settings = config(tiny, stages=["dpo"], dpo={"max_steps": 1, "batch_size": 4, "trl": {"loss_type": ["ipo"]}})
    assert run(settings, snapshot, tmp_path / "out")["stages"]["dpo"]["steps"] == 1
    typo = config(tiny, stages=["dpo"], dpo={"max_steps": 1, "trl": {"loss_typ": ["ipo"]}})
    with pytest.raises(ConfigError, match="dpo.trl: .*loss_typ"):
        run(typo, snapshot, tmp_path / "typo")
