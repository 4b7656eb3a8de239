"""Figures for the training pipeline on this CPU: SFT and DPO tokens/s of `python -m training.pipeline` against a
bare TRL script with the same data, model and settings, alternating in the same run (each in its own process).

Run by hand: `.venv/bin/python bench/pipeline.py [--rows 512] [--steps 40] [--repeats 3]`. No GPU is used here.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = r"""
import json, sys, time
from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

model_dir, data, stage, steps, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
tok = AutoTokenizer.from_pretrained(model_dir)
common = dict(output_dir=data + "/bare-" + stage, max_steps=steps, per_device_train_batch_size=batch, learning_rate=2e-4,
              use_cpu=True, bf16=False, activation_checkpointing=False, report_to="none", save_strategy="no",
              max_length=256, logging_steps=10, warmup_steps=0.03)
lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa")
if stage == "sft":
    ds = load_dataset("json", data_files=data + "/sft.train.jsonl", split="train")
    trainer = SFTTrainer(model=model, args=SFTConfig(**common, assistant_only_loss=True), train_dataset=ds, processing_class=tok, peft_config=lora)
    start = time.perf_counter(); trainer.train(); wall = time.perf_counter() - start
    tokens = trainer._total_train_tokens
else:
    ds = load_dataset("json", data_files=data + "/dpo.train.jsonl", split="train")
    trainer = DPOTrainer(model=model, args=DPOConfig(**common), train_dataset=ds, processing_class=tok, peft_config=lora)
    start = time.perf_counter(); trainer.train(); wall = time.perf_counter() - start
    per = [len(r["prompt_ids"]) * 2 + len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in trainer.train_dataset]
    tokens = sum(per) * steps * batch / len(per)
print(json.dumps({"tokens_per_s": tokens / wall}))
"""


def make_data(folder: Path, rows: int) -> None:
    rng = random.Random(0)
    words = [
        "apple",
        "river",
        "stone",
        "cloud",
        "music",
        "garden",
        "lamp",
        "paper",
        "horse",
        "window",
        "candle",
        "forest",
        "silver",
        "ocean",
        "tiger",
    ]

    def text(n):
        return " ".join(rng.choice(words) for _ in range(n))

    with (folder / "sft.train.jsonl").open("w") as sft, (folder / "dpo.train.jsonl").open("w") as dpo:
        for _ in range(rows):
            prompt = [{"role": "user", "content": text(20)}]
            sft.write(json.dumps({"messages": [*prompt, {"role": "assistant", "content": text(60)}]}) + "\n")
            chosen, rejected = (
                [{"role": "assistant", "content": text(40)}],
                [{"role": "assistant", "content": text(30)}],
            )
            dpo.write(json.dumps({"prompt": prompt, "chosen": chosen, "rejected": rejected}) + "\n")


def ours(model_dir: Path, data: Path, stage: str, steps: int, batch: int, out: Path) -> float:
    config = {
        "base_model": str(model_dir),
        "stages": [stage],
        "use_cpu": True,
        "max_length": 256,
        stage: {"max_steps": steps, "batch_size": batch, "learning_rate": 2e-4},
    }
    (out / "run.yaml").write_text(yaml.safe_dump(config))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "training.pipeline",
            "--config",
            str(out / "run.yaml"),
            "--snapshot",
            str(data),
            "--out",
            str(out / "run"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads((out / "run" / "metrics.json").read_text())["stages"][stage]["tokens_per_s"]


def bare(model_dir: Path, data: Path, stage: str, steps: int, batch: int) -> float:
    found = subprocess.run(
        [sys.executable, "-c", BARE, str(model_dir), str(data), stage, str(steps), str(batch)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(found.stdout.strip().splitlines()[-1])["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    from training.pipeline.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_data(tmp, args.rows)
        texts = [
            line for name in ("sft.train.jsonl", "dpo.train.jsonl") for line in (tmp / name).read_text().splitlines()
        ]
        model_dir = build_tiny_model(tmp / "tiny", texts)
        for stage in ("sft", "dpo"):
            pairs = []
            for repeat in range(args.repeats):
                run_dir = tmp / f"ours-{stage}-{repeat}"
                run_dir.mkdir()
                pairs.append(
                    (
                        ours(model_dir, tmp, stage, args.steps, args.batch, run_dir),
                        bare(model_dir, tmp, stage, args.steps, args.batch),
                    )
                )
            mine, theirs = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
            print(
                f"{stage}: pipeline {mine:,.0f} tokens/s, bare TRL {theirs:,.0f} tokens/s, ratio {mine / theirs:.3f} (median of {args.repeats})"
            )


if __name__ == "__main__":
    main()
