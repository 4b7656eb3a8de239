"""Generation throughput of `training.pipeline.generate` for the tiny offline model: generated tokens/s and
answers/s at several batch sizes, greedy, on the CPU (and on the GPU when there is one), best of a few repeats
after a warm-up. Prompts are 1 to 24 words long, so batches mix lengths as evaluation prompts do.

    .venv/bin/python bench/generation.py [--prompts 64] [--max-new-tokens 64] [--batch-sizes 1 8 32] [--repeats 5] [--threads 1]
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    *("apple", "river", "stone", "cloud", "music", "garden", "lamp", "paper", "horse", "window", "candle", "forest"),
    *("silver", "ocean", "tiger", "bread", "chair", "field", "glass", "honey", "island", "jacket", "kettle", "lemon"),
]


def prompt_rows(count: int) -> list[dict]:
    return [
        {"id": n, "messages": [{"role": "user", "content": " ".join(WORDS[: 1 + (n * 7) % len(WORDS)])}]}
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a 64-wide model gains nothing)")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    torch.set_num_threads(args.threads)
    from training.pipeline.generate import Sampling, generate
    from training.pipeline.tiny_model import build_tiny_model

    rows = prompt_rows(args.prompts)
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    print(
        f"{args.prompts} prompts, up to {args.max_new_tokens} new tokens, greedy; torch threads {torch.get_num_threads()}"
    )
    print("| device | batch | generated tokens/s | answers/s | stopped at end of turn |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        texts = [f"Say {a} {b}. {b} {a}" for a in WORDS for b in WORDS]
        model = str(build_tiny_model(Path(folder), texts, vocab_size=400))
        for device in devices:
            for batch_size in args.batch_sizes:
                sampling = Sampling(batch_size=batch_size, max_new_tokens=args.max_new_tokens)
                runs = [generate(model, rows, sampling, use_cpu=device == "cpu")[1] for _ in range(1 + args.repeats)]
                best = max(runs[1:], key=lambda settings: settings["tokens_per_s"])
                print(
                    f"| {best['device']} | {batch_size} | {best['tokens_per_s']:,.0f} | {best['answers_per_s']:,.1f} "
                    f"| {best['finished']['stop']}/{best['answers']} |"
                )


if __name__ == "__main__":
    main()
