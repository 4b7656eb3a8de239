"""Training figures on a GPU for a model of a real model's shape, built from a config (nothing is downloaded):
tokens/s, model FLOPs utilisation and peak memory per stage, SFT with packing (padding-free) off and on, DPO, and
optionally full fine-tuning. Each variant runs `python -m training.pipeline` in its own process, unchanged; only
the run config differs. `--shape tiny` runs on a CPU in a minute, to check the script itself.

MFU = flops_per_token × tokens/s ÷ the card's dense bf16 peak, with N = parameters less the input embedding table
(the LM head's matmul counted, tied or not), attention's own FLOPs left out (so MFU is understated at long
sequences): full-fine-tuning SFT 6·N (forward 2N, backward 4N); LoRA SFT 4·N (no weight gradients for the frozen
base); LoRA DPO 6·N (policy forward and backward, plus the reference forward with the adapter disabled); full DPO
8·N. Tokens are the non-padding tokens TRL feeds the model (chosen and rejected both count in DPO), over all ranks.

    .venv/bin/python bench/gpu.py --shape 0.5b [--steps 200] [--batch 8] [--full] [--peak-tflops 989]
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = {  # LlamaConfig fields with the dimensions of public models (Qwen2.5 0.5B and 1.5B: tied embeddings)
    "tiny": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "0.5b": {
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
        "max_position_embeddings": 32768,
        "initializer_range": 0.02,
    },
    "1.5b": {
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
        "max_position_embeddings": 32768,
        "initializer_range": 0.02,
    },
}
PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.1, "A10G": 125.0, "L4": 121.0}
FLOPS_PER_N = {("sft", True): 4, ("sft", False): 6, ("dpo", True): 6, ("dpo", False): 8}
WORDS = [consonant + vowel for consonant in "bdfgklmnprstvz" for vowel in "aeiou"]  # 70 syllables


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def snapshot(folder: Path, rows: int, seed: int = 0) -> list[str]:
    """SFT and DPO rows with a realistic spread of lengths: most short, a long tail (log-normal word counts)."""
    rng = random.Random(seed)
    length = lambda: max(4, min(1500, int(rng.lognormvariate(4.5, 1.0))))  # noqa: E731
    sft, dpo = [], []
    for _ in range(rows):
        prompt = [{"role": "user", "content": text(rng, length() // 3)}]
        sft.append({"prompt": prompt, "completion": [{"role": "assistant", "content": text(rng, length())}]})
        answers = [[{"role": "assistant", "content": text(rng, length())}] for _ in range(2)]
        dpo.append({"prompt": prompt, "chosen": answers[0], "rejected": answers[1]})
    for name, data in (("sft.train.jsonl", sft), ("dpo.train.jsonl", dpo)):
        (folder / name).write_text("".join(json.dumps(row) + "\n" for row in data))
    return [text(rng, 50) for _ in range(200)]


def parameters(model_dir: Path) -> int:
    """N for the MFU formula: every parameter but the input embedding table."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_dir)
    import torch

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    return total - embedding + (embedding if config.tie_word_embeddings else 0)


def run_variant(work: Path, name: str, model_dir: Path, data: Path, settings: dict) -> dict:
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"base_model": str(model_dir), "seed": 0, **settings}))
    out = work / name
    command = [sys.executable, "-m", "training.pipeline", "--config", str(path), "--snapshot", str(data)]
    done = subprocess.run(
        [*command, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads((out / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=SHAPES, default="tiny")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--full", action="store_true", help="also full fine-tuning SFT (no LoRA)")
    parser.add_argument("--liger", action="store_true", help="also SFT with Liger kernels (when installed)")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak (default: from its name)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    import torch

    from training.pipeline.tiny_model import build_tiny_model

    gpu = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if gpu else "cpu"
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in device), None)
    common = {"max_length": args.max_length, "use_cpu": not gpu, "early_stopping_patience": 1000}
    stage = {"max_steps": args.steps, "batch_size": args.batch, "logging_steps": 10, "save_steps": 100000}
    variants = {
        "sft, LoRA, padded": ("sft", True, {"stages": ["sft"], "packing": False, "sft": stage}),
        "sft, LoRA, packed (padding-free)": ("sft", True, {"stages": ["sft"], "packing": True, "sft": stage}),
        "dpo, LoRA (reference = adapter off)": ("dpo", True, {"stages": ["dpo"], "dpo": stage}),
    }
    if args.full:
        full = {"stages": ["sft"], "packing": True, "lora": {"enabled": False}, "sft": stage}
        variants["sft, full fine-tuning, packed"] = ("sft", False, full)
    if args.liger:
        variants["sft, LoRA, packed, Liger"] = (
            "sft",
            True,
            {"stages": ["sft"], "packing": True, "liger": True, "sft": stage},
        )
    with tempfile.TemporaryDirectory(prefix="quorum-gpu-bench-") as tmp:
        work = Path(tmp)
        data = work / "snapshot"
        data.mkdir()
        corpus = snapshot(data, args.rows)
        model_dir = build_tiny_model(work / "model", corpus, vocab_size=4000, shape=SHAPES[args.shape])
        n = parameters(model_dir)
        print(
            f"device {device} · shape {args.shape} · N = {n / 1e6:.1f} M · peak {peak or 'unknown'} TFLOPS · "
            f"torch {torch.__version__}"
        )
        print("| variant | tokens/s | MFU | peak memory (GiB) | steps | wall (s) |")
        print("|---|---:|---:|---:|---:|---:|")
        results = {}
        for name, (kind, lora, settings) in variants.items():
            metrics = run_variant(work, name.split(",")[0] + str(len(results)), model_dir, data, {**common, **settings})
            if "error" in metrics:
                print(f"| {name} | failed: {metrics['error']} | | | | |")
                results[name] = metrics
                continue
            figures = metrics["stages"][kind]
            mfu = FLOPS_PER_N[kind, lora] * n * figures["tokens_per_s"] / (peak * 1e12) if peak and gpu else None
            results[name] = {**figures, "mfu": mfu, "flops_per_token": FLOPS_PER_N[kind, lora] * n}
            print(
                f"| {name} | {figures['tokens_per_s']:,.0f} | {f'{mfu:.1%}' if mfu is not None else 'n/a'} | "
                f"{figures['peak_memory_mb'] / 1024:.2f} | {figures['steps']} | {figures['wall_s']:.1f} |"
            )
        if args.json:
            args.json.write_text(
                json.dumps({"device": device, "shape": args.shape, "n": n, "results": results}, indent=2)
            )


if __name__ == "__main__":
    main()
