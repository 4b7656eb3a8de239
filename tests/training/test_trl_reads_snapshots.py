"""TRL trains on a snapshot's files exactly as they are written: loaded with `datasets`, one step each."""

import json
import math

import pytest

from tests.training.conftest import build
from training.pipeline.tiny_model import build_tiny_model
from training.snapshots.service import snapshot_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot_folder(judged, users, django_capture_on_commit_callbacks, tmp_path):
    snapshot = build(
        judged, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0, system_prompt="Be kind."
    )
    for name in snapshot.files:
        (tmp_path / name).write_bytes(snapshot_file(snapshot, name).read())
    return tmp_path


def corpus(folder):
    texts = []
    for name in ("sft.train.jsonl", "dpo.train.jsonl"):
        for line in (folder / name).read_text().splitlines():
            row = json.loads(line)
            texts += [m["content"] for key in ("messages", "prompt", "chosen", "rejected") for m in row.get(key, [])]
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
        assert sft_data[0]["messages"][0] == {"role": "system", "content": "Be kind."}
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


def test_the_chat_template_check_counts_rows_over_max_length(
    judged, users, django_capture_on_commit_callbacks, tmp_path
):
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
