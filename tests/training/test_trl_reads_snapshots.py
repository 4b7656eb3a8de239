"""TRL trains on a snapshot's files exactly as they are written: loaded with `datasets`, one step each."""

import json
import math

import pytest

from tests.training.conftest import WRITTEN_TURNS, build
from training.pipeline.tiny_model import build_tiny_model
from training.snapshots.service import snapshot_file

pytestmark = pytest.mark.django_db


def downloaded(project, user, django_capture_on_commit_callbacks, folder):
    snapshot = build(project, user, django_capture_on_commit_callbacks, eval_fraction=0.0, system_prompt="Be kind.")
    for name in snapshot.files:
        (folder / name).write_bytes(snapshot_file(snapshot, name).read())
    return folder


@pytest.fixture
def snapshot_folder(judged, users, django_capture_on_commit_callbacks, tmp_path):
    return downloaded(judged, users["admin"], django_capture_on_commit_callbacks, tmp_path)


def corpus(folder):
    texts = []
    for name in ("sft.train.jsonl", "dpo.train.jsonl"):
        for line in (folder / name).read_text().splitlines():
            row = json.loads(line)
            texts += [m["content"] for key in ("prompt", "completion", "chosen", "rejected") for m in row.get(key, [])]
    return texts


def test_sft_and_dpo_trainers_take_the_files_as_they_are(snapshot_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    model_dir = build_tiny_model(tmp_path / "tiny", corpus(snapshot_folder))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    common = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": 1,
        "per_device_train_batch_size": 2,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "max_length": 256,
    }
    for fmt in ("json", "parquet"):
        suffix = "jsonl" if fmt == "json" else "parquet"
        sft_data = load_dataset(fmt, data_files=str(snapshot_folder / f"sft.train.{suffix}"), split="train")
        assert sft_data[0]["prompt"][0] == {"role": "system", "content": "Be kind."}
        sft = SFTTrainer(
            model=AutoModelForCausalLM.from_pretrained(model_dir),
            args=SFTConfig(**common, assistant_only_loss=True),
            train_dataset=sft_data,
            processing_class=tokenizer,
        )
        assert math.isfinite(sft.train().training_loss)

        dpo_data = load_dataset(fmt, data_files=str(snapshot_folder / f"dpo.train.{suffix}"), split="train")
        dpo = DPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(model_dir),
            args=DPOConfig(**common),
            train_dataset=dpo_data,
            processing_class=tokenizer,
        )
        loss = dpo.train().training_loss
        assert loss == pytest.approx(math.log(2), abs=0.05)  # DPO starts at ln 2 when policy = reference


def test_the_sft_stage_trains_only_on_the_turns_the_annotator_wrote(
    multiturn, users, django_capture_on_commit_callbacks, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from training.pipeline.config import config_from_text
    from training.pipeline.devices import resolve
    from training.pipeline.stages import Stage, sft_trainer

    folder = downloaded(multiturn, users["admin"], django_capture_on_commit_callbacks, tmp_path)
    model_dir = build_tiny_model(tmp_path / "tiny", corpus(folder))
    config = config_from_text(f"base_model: {model_dir}\nuse_cpu: true\nmax_length: 256\nsft: {{max_steps: 1}}\n")
    stage = Stage(config, resolve(config, 1), folder, str(model_dir), tmp_path / "out", keep_adapter=False)
    trainer, _ = sft_trainer(stage, "sft")
    (row,) = trainer.train_dataset
    trained = [token for token, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100]
    written = [turn["content"] for turn in WRITTEN_TURNS if turn["role"] == "assistant"]
    assert trainer.processing_class.decode(trained) == "".join(f"{text}<|im_end|>" for text in written)
    assert math.isfinite(trainer.train().training_loss)


def test_the_chat_template_check_counts_rows_over_max_length(
    judged, users, django_capture_on_commit_callbacks, tmp_path, settings
):
    settings.MODELS_ROOT = tmp_path
    model_dir = build_tiny_model(tmp_path / "tiny", ["hello world"] * 10)
    snapshot = build(
        judged,
        users["admin"],
        django_capture_on_commit_callbacks,
        eval_fraction=0.0,
        template_tokenizer=str(model_dir),
        template_max_length=12,
    )
    report = snapshot.counts["template_check"]["files"]
    assert report["sft.train.jsonl"]["rows"] == snapshot.counts["rows"]["sft.train"]
    assert report["sft.train.jsonl"]["over_max_length"] > 0 and report["dpo.train.jsonl"]["longest_tokens"] > 12
    assert "Chat template check" in snapshot_file(snapshot, "card.md").read().decode()
