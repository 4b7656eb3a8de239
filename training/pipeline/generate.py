"""Batched generation for evaluating model versions: a model (or a LoRA adapter merged into its base) answers a JSONL
file of chat prompts, and the settings, seeds, library versions and throughput are written beside the answers.

`python -m training.pipeline.generate --model DIR_OR_HUB_ID --prompts prompts.jsonl --out answers.jsonl [...]`

Each prompt row is {"id": ..., "messages": [..., {"role": "user", ...}], ...}; every key comes back unchanged, with
"response", "tokens" (generated tokens, the end-of-turn token included) and "finish" ("stop" or "length"), and with
"sample" and "seed" when --samples > 1. The settings go to `<out stem>.settings.json`.

Engines: transformers (left padding, prompts batched by length, greedy at temperature 0, else one seed per sample
pass, so a rerun with the same settings, batch size included, reproduces the outputs). vLLM is used when installed,
on a GPU, for a full model (not an adapter); that branch is untested here, where vLLM is not installed.
"""

import argparse
import importlib.metadata
import importlib.util
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from training.pipeline.weights import adapter_base, is_adapter, tokenizer_source

ENGINES = ("auto", "transformers", "vllm")


class GenerationError(ValueError):
    """Bad input or settings: the message says what to fix."""


@dataclass(frozen=True)
class Sampling:
    batch_size: int = 16
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    samples: int = 1

    def check(self) -> None:
        if self.batch_size < 1 or self.max_new_tokens < 1 or self.samples < 1:
            raise GenerationError("--batch-size, --max-new-tokens and --samples must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise GenerationError("--temperature must be >= 0 and --top-p in (0, 1]")
        if self.samples > 1 and self.temperature == 0:
            raise GenerationError("--samples > 1 needs --temperature > 0: greedy samples would all be the same")

    def sample_seeds(self) -> list[int]:
        return [self.seed + sample for sample in range(self.samples)]


def read_prompts(path: Path) -> list[dict]:
    """The prompt rows of a JSONL file; a bad row raises GenerationError naming its line."""
    rows, ids = [], set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GenerationError(f"{path} line {number}: not JSON ({exc.msg})") from exc
            problem = _row_problem(row, ids)
            if problem:
                raise GenerationError(f"{path} line {number}: {problem}")
            ids.add(row["id"])
            rows.append(row)
    return rows


def _row_problem(row, ids: set) -> str:
    if not isinstance(row, dict) or "id" not in row:
        return 'a row must be an object with an "id"'
    if row["id"] in ids:
        return f"id {row['id']!r} appears twice"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return '"messages" must be a non-empty list of chat messages'
    if not all(isinstance(m, dict) and isinstance(m.get("content"), str) and "role" in m for m in messages):
        return 'every message needs a "role" and a string "content"'
    if messages[-1]["role"] != "user":
        return "the last message must be the user's"
    return ""


def choose_engine(requested: str, model: str, *, use_cpu: bool) -> str:
    installed = importlib.util.find_spec("vllm") is not None
    if requested == "vllm":
        if not installed:
            raise GenerationError("--engine vllm: vLLM is not installed (install the vllm extra, or use transformers)")
        if is_adapter(model):
            raise GenerationError("--engine vllm takes a full model: merge the adapter first, or use transformers")
        return "vllm"
    if requested == "auto" and installed and not use_cpu and not is_adapter(model) and _cuda():
        return "vllm"
    return "transformers"


def generate(model: str, rows: list[dict], sampling: Sampling, *, engine: str = "auto", use_cpu: bool = False):
    """Answer `rows` with `model`; return (answer rows in input order, samples of a row together; settings record)."""
    sampling.check()
    engine = choose_engine(engine, model, use_cpu=use_cpu)
    started = time.perf_counter()
    run = _vllm if engine == "vllm" else _transformers
    results, setup = run(model, [row["messages"] for row in rows], sampling, use_cpu)
    wall = time.perf_counter() - started
    answers = []
    for index, row in enumerate(rows):
        for sample, seed in enumerate(sampling.sample_seeds()):
            answer = {**row, **results[sample][index]}
            if sampling.samples > 1:
                answer |= {"sample": sample, "seed": seed}
            answers.append(answer)
    tokens = sum(answer["tokens"] for answer in answers)
    load_s = setup.pop("load_s")
    generate_s = wall - load_s
    settings = {
        "model": model,
        "base_model": adapter_base(model) if is_adapter(model) else None,
        "engine": engine,
        **asdict(sampling),
        "seeds": sampling.sample_seeds(),
        **setup,
        "libraries": _versions(engine),
        "rows": len(rows),
        "answers": len(answers),
        "finished": {f: sum(a["finish"] == f for a in answers) for f in ("stop", "length")},
        "generated_tokens": tokens,
        "load_s": round(load_s, 3),
        "generate_s": round(generate_s, 3),
        "tokens_per_s": round(tokens / generate_s, 1),
        "answers_per_s": round(len(answers) / generate_s, 2),
    }
    return answers, settings


def settings_path(out: Path) -> Path:
    return out.with_suffix(".settings.json")


def generate_file(model: str, prompts: Path, out: Path, sampling: Sampling, **options) -> dict:
    """Answer the prompts file into `out` and write the settings beside it; return the settings."""
    answers, settings = generate(model, read_prompts(prompts), sampling, **options)
    settings["prompts"] = str(prompts)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write(out, "".join(json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers))
    _write(settings_path(out), json.dumps(settings, indent=2) + "\n")
    return settings


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _versions(engine: str) -> dict:
    names = ["torch", "transformers", "peft", "vllm"] if engine == "vllm" else ["torch", "transformers", "peft"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _stop_ids(tokenizer, model) -> list[int]:
    """The tokenizer's end-of-turn token, and any other stop token the model's own generation config names."""
    configured = model.generation_config.eos_token_id
    configured = configured if isinstance(configured, list) else [configured]
    return list(dict.fromkeys(i for i in [tokenizer.eos_token_id, *configured] if i is not None))


def _transformers(model_path: str, conversations: list[list[dict]], sampling: Sampling, use_cpu: bool):
    import torch
    from transformers import AutoTokenizer, GenerationConfig

    from training.pipeline.weights import load_model

    gpu = not use_cpu and torch.cuda.is_available()
    precision = "bf16" if gpu and torch.cuda.is_bf16_supported() else "fp32"
    device = torch.device("cuda" if gpu else "cpu")
    loading = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(model_path))
    tokenizer.padding_side = "left"  # generated tokens must follow each prompt directly
    model = load_model(model_path, {"precision": precision, "attn_implementation": "sdpa"}, trainable=False)
    model.to(device).eval()
    stop_ids = _stop_ids(tokenizer, model)
    # A blank config, so defaults in the model's generation_config.json (a repetition penalty, a top-k) add nothing
    # the settings record does not show.
    model.generation_config = GenerationConfig()
    load_s = time.perf_counter() - loading
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    options = {"max_new_tokens": sampling.max_new_tokens, "eos_token_id": stop_ids, "pad_token_id": pad_id}
    if sampling.temperature > 0:
        options |= {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
    else:
        options["do_sample"] = False
    prompts = [
        tokenizer(
            tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False),
            add_special_tokens=False,
        )["input_ids"]
        for messages in conversations
    ]
    by_length = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))  # longest first: memory limits show early
    batches = [by_length[i : i + sampling.batch_size] for i in range(0, len(by_length), sampling.batch_size)]
    results = []
    for seed in sampling.sample_seeds():
        torch.manual_seed(seed)
        answers = [None] * len(prompts)
        for batch in batches:
            inputs = tokenizer.pad({"input_ids": [prompts[i] for i in batch]}, return_tensors="pt").to(device)
            with torch.inference_mode():
                output = model.generate(**inputs, **options)
            for i, generated in zip(batch, output[:, inputs["input_ids"].shape[1] :].tolist(), strict=True):
                answers[i] = _answer(tokenizer, generated, stop_ids)
        results.append(answers)
    setup = {
        "device": torch.cuda.get_device_name(device) if gpu else "cpu",
        "precision": precision,
        "torch_threads": None if gpu else torch.get_num_threads(),
        "stop_token_ids": stop_ids,
        "generation": {k: v for k, v in options.items() if k not in ("eos_token_id", "pad_token_id")},
        "load_s": load_s,
    }
    return results, setup


def _answer(tokenizer, generated: list[int], stop_ids: list[int]) -> dict:
    end = next((n + 1 for n, token in enumerate(generated) if token in stop_ids), None)
    kept = generated if end is None else generated[:end]
    return {
        "response": tokenizer.decode(kept, skip_special_tokens=True),
        "tokens": len(kept),
        "finish": "length" if end is None else "stop",
    }


def _vllm(model_path: str, conversations: list[list[dict]], sampling: Sampling, use_cpu: bool):
    """Untested here: vLLM is not installed on the machines this was written on."""
    from vllm import LLM, SamplingParams

    loading = time.perf_counter()
    llm = LLM(model=model_path, seed=sampling.seed, generation_config="vllm")  # no model defaults unrecorded
    tokenizer = llm.get_tokenizer()
    load_s = time.perf_counter() - loading
    prompts = [
        {"prompt_token_ids": tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)}
        for messages in conversations
    ]
    results = []
    for seed in sampling.sample_seeds():
        params = SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            seed=seed,
            stop_token_ids=[tokenizer.eos_token_id],
        )
        outputs = llm.generate(prompts, params)
        results.append(
            [
                {
                    "response": o.outputs[0].text,
                    "tokens": len(o.outputs[0].token_ids),
                    "finish": "length" if o.outputs[0].finish_reason == "length" else "stop",
                }
                for o in outputs
            ]
        )
    setup = {"device": "cuda", "precision": "auto", "stop_token_ids": [tokenizer.eos_token_id], "load_s": load_s}
    return results, setup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.pipeline.generate", description=__doc__)
    parser.add_argument("--model", required=True, help="a model or adapter folder, or a hub id")
    parser.add_argument("--prompts", type=Path, required=True, help="JSONL of prompt rows")
    parser.add_argument("--out", type=Path, required=True, help="JSONL of answers; settings go beside it")
    parser.add_argument("--batch-size", type=int, default=Sampling.batch_size)
    parser.add_argument("--max-new-tokens", type=int, default=Sampling.max_new_tokens)
    parser.add_argument("--temperature", type=float, default=Sampling.temperature, help="0: greedy")
    parser.add_argument("--top-p", type=float, default=Sampling.top_p)
    parser.add_argument("--seed", type=int, default=Sampling.seed, help="sample n uses seed + n")
    parser.add_argument("--samples", type=int, default=Sampling.samples, help="answers per prompt")
    parser.add_argument("--engine", choices=ENGINES, default="auto")
    parser.add_argument("--use-cpu", action="store_true", help="stay on the CPU even when a GPU is there")
    args = parser.parse_args(argv)
    sampling = Sampling(
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        samples=args.samples,
    )
    try:
        settings = generate_file(args.model, args.prompts, args.out, sampling, engine=args.engine, use_cpu=args.use_cpu)
    except (GenerationError, OSError) as exc:
        print(f"generation error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: settings[k] for k in ("answers", "generated_tokens", "generate_s", "tokens_per_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
