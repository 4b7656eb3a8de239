"""The SFT and DPO stages on TRL's trainers, LoRA through PEFT. Heavy imports stay inside the functions."""

import json
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from training.pipeline.config import RunConfig, StageSettings

DEFAULT_LR = {("sft", True): 2e-4, ("dpo", True): 5e-5, ("sft", False): 2e-5, ("dpo", False): 5e-6}
SFT_COLUMNS = ("prompt", "completion", "messages")  # `messages`: snapshots built before SFT rows were prompt–completion


@dataclass
class StageResult:
    metrics: dict
    model_dir: Path  # a full model (merged when LoRA was used): where the next stage starts


def _load_split(snapshot: Path, kind: str, split: str, columns: tuple[str, ...]):
    """The split's rows with those of `columns` the file has."""
    from datasets import load_dataset

    path = snapshot / f"{kind}.{split}.jsonl"
    if not path.exists() or path.stat().st_size == 0:
        return None
    rows = load_dataset("json", data_files=str(path), split="train")
    return rows.select_columns([column for column in columns if column in rows.column_names])


def _log_callback(log_path: Path, stage: str):
    from transformers import TrainerCallback

    class JsonlLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            with log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"stage": stage, "step": state.global_step, **(logs or {})}) + "\n")

    return JsonlLog()


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _common_args(config: RunConfig, choices: dict, settings: StageSettings, stage: str, folder: Path, has_eval: bool):
    lr = settings.learning_rate or DEFAULT_LR[stage, config.lora.enabled]
    return {
        "output_dir": str(folder / "checkpoints"),
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "learning_rate": lr,
        "per_device_train_batch_size": settings.batch_size,
        "per_device_eval_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "warmup_steps": settings.warmup_ratio,  # a float below 1 is a share of the steps
        "bf16": choices["precision"] == "bf16",
        "fp16": choices["precision"] == "fp16",
        "activation_checkpointing": choices["gradient_checkpointing"],
        "use_cpu": choices["device"] == "cpu",
        "report_to": "none",
        "logging_steps": settings.logging_steps,
        "save_strategy": "steps",
        "save_steps": settings.eval_steps if has_eval else settings.save_steps,
        "save_total_limit": 2,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": settings.eval_steps,
        "load_best_model_at_end": has_eval,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
        "max_length": config.max_length,
        "seed": config.seed,
        "use_liger_kernel": choices["liger"],
    }


def _lora(config: RunConfig):
    if not config.lora.enabled:
        return None
    from peft import LoraConfig

    lora = config.lora
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


def _model(path: str, choices: dict):
    import torch
    from transformers import AutoModelForCausalLM

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(choices["precision"], torch.float32)
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=choices["attn_implementation"])


def _finish(trainer, folder: Path, tokenizer, merge: bool) -> Path:
    """Save the adapter (or full weights) and tokenizer; return a full model folder for the next stage."""
    adapter = folder / "adapter"
    trainer.save_model(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    if not hasattr(trainer.model, "merge_and_unload"):
        return adapter
    if not merge:
        return adapter
    merged = folder / "merged"
    trainer.model.merge_and_unload().save_pretrained(str(merged))
    tokenizer.save_pretrained(str(merged))
    return merged


def _trainer(trainer_class, args, config, choices, start, tokenizer, folder, stage, train, evaluation):
    """A TRL trainer with the run's model, LoRA, JSONL log and (with an eval set) early stopping."""
    from transformers import EarlyStoppingCallback

    callbacks = [_log_callback(folder.parent / "train_log.jsonl", stage)]
    if evaluation is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    return trainer_class(
        model=_model(start, choices),
        args=args,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=_lora(config),
        callbacks=callbacks,
    )


def _trainer_run(trainer, folder: Path) -> tuple[dict, float]:
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = folder / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.exists() else None
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    return result.metrics, time.perf_counter() - started


def domain_mix(rows, domain: str, general_share: float, seed: int):
    """The rows of `domain`, plus just enough rows of other domains to make `general_share` of the result."""
    own = rows.filter(lambda row: row["domain"] == domain)
    general = rows.filter(lambda row: row["domain"] != domain).shuffle(seed=seed)
    if len(own) == 0:
        raise ValueError(f"domain_sft: the snapshot has no rows of domain {domain!r}")
    wanted = min(len(general), round(len(own) * general_share / (1 - general_share)))
    from datasets import concatenate_datasets

    return concatenate_datasets([own, general.select(range(wanted))]).remove_columns("domain")


def run_sft(config: RunConfig, choices: dict, snapshot: Path, start: str, folder: Path, *, merge: bool) -> StageResult:
    """Supervised fine-tuning on the snapshot's conversations, loss only on the assistant turns annotators wrote."""
    return _sft(config, config.sft, "sft", choices, snapshot, start, folder, merge=merge, domain=None)


def run_domain_sft(config: RunConfig, choices: dict, snapshot: Path, start: str, folder: Path, *, merge: bool):
    """SFT on one domain's rows with general instruction rows mixed back in, so the model does not forget."""
    settings = config.domain_sft
    return _sft(config, settings, "domain_sft", choices, snapshot, start, folder, merge=merge, domain=settings)


def sft_trainer(
    config: RunConfig,
    settings: StageSettings,
    stage: str,
    choices: dict,
    snapshot: Path,
    start: str,
    folder: Path,
    domain=None,
):
    """The stage's SFTTrainer and its number of rows. A prompt–completion row trains only on its completion's
    assistant turns (TRL's completion and assistant masks together); the prompt, imported turns included, is context."""
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    columns = (*SFT_COLUMNS, "domain") if domain else SFT_COLUMNS
    train = _load_split(snapshot, "sft", "train", columns)
    if train is None:
        raise ValueError(f"{snapshot}/sft.train.jsonl is missing or empty")
    evaluation = _load_split(snapshot, "sft", "eval", columns)
    if domain:
        train = domain_mix(train, domain.domain, domain.general_share, config.seed)
        evaluation = evaluation.filter(lambda row: row["domain"] == domain.domain) if evaluation is not None else None
        evaluation = evaluation.remove_columns("domain") if evaluation is not None and len(evaluation) else None
    tokenizer = AutoTokenizer.from_pretrained(start)
    args = SFTConfig(
        **_common_args(config, choices, settings, "sft", folder, evaluation is not None),
        assistant_only_loss=True,
        packing=choices["packing"],
    )
    trainer = _trainer(SFTTrainer, args, config, choices, start, tokenizer, folder, stage, train, evaluation)
    return trainer, len(train)


def _sft(config, settings, stage, choices, snapshot, start, folder, *, merge, domain) -> StageResult:
    trainer, train_rows = sft_trainer(config, settings, stage, choices, snapshot, start, folder, domain)
    has_eval = trainer.eval_dataset is not None
    before = trainer.evaluate()["eval_loss"] if has_eval else None
    train_metrics, wall = _trainer_run(trainer, folder)
    after = trainer.evaluate()["eval_loss"] if has_eval else None
    tokens = int(getattr(trainer, "_total_train_tokens", 0))
    metrics = {
        "train_loss": train_metrics.get("train_loss"),
        "eval_loss_before": before,
        "eval_loss": after,
        "train_tokens": tokens,
        "tokens_per_s": tokens / wall if wall else None,
        "wall_s": wall,
        "steps": trainer.state.global_step,
        "train_rows": train_rows,
        "peak_memory_mb": _peak_memory_mb(),
    }
    return StageResult(metrics, _finish(trainer, folder, trainer.processing_class, merge))


def run_dpo(config: RunConfig, choices: dict, snapshot: Path, start: str, folder: Path, *, merge: bool) -> StageResult:
    """Direct preference optimisation from `start`; with LoRA the reference is `start` with the adapter disabled."""
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    columns = ("prompt", "chosen", "rejected")
    train = _load_split(snapshot, "dpo", "train", columns)
    if train is None:
        raise ValueError(f"{snapshot}/dpo.train.jsonl is missing or empty")
    evaluation = _load_split(snapshot, "dpo", "eval", columns)
    tokenizer = AutoTokenizer.from_pretrained(start)
    args = DPOConfig(
        **_common_args(config, choices, config.dpo, "dpo", folder, evaluation is not None), beta=config.dpo.beta
    )
    trainer = _trainer(DPOTrainer, args, config, choices, start, tokenizer, folder, "dpo", train, evaluation)
    before = trainer.evaluate() if evaluation is not None else {}
    train_metrics, wall = _trainer_run(trainer, folder)
    after = trainer.evaluate() if evaluation is not None else {}
    per_example = [
        len(r["prompt_ids"]) * 2 + len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in trainer.train_dataset
    ]
    batch = config.dpo.batch_size * config.dpo.grad_accum
    seen = trainer.state.global_step * batch / max(1, len(per_example))
    tokens = int(sum(per_example) * seen)
    metrics = {
        "train_loss": train_metrics.get("train_loss"),
        "eval_loss": after.get("eval_loss"),
        "eval_reward_accuracy_before": before.get("eval_rewards/accuracies"),
        "eval_reward_accuracy": after.get("eval_rewards/accuracies"),
        "eval_reward_margin": after.get("eval_rewards/margins"),
        "train_tokens": tokens,
        "tokens_per_s": tokens / wall if wall else None,
        "wall_s": wall,
        "steps": trainer.state.global_step,
        "peak_memory_mb": _peak_memory_mb(),
    }
    return StageResult(metrics, _finish(trainer, folder, tokenizer, merge))
