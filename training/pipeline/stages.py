"""The SFT and DPO stages on TRL's trainers, LoRA through PEFT. Heavy imports stay inside the functions.

Every process of a multi-process run calls these; TRL and transformers split the batches and gather the counters,
and everything written to the run's folder is written by the main process alone."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from training.pipeline.chat_templates import training_template
from training.pipeline.config import ConfigError, RunConfig, StageSettings
from training.pipeline.records import PeakMemory
from training.pipeline.weights import load_model, merge_saved, tokenizer_source

DEFAULT_LR = {("sft", True): 2e-4, ("dpo", True): 5e-5, ("sft", False): 2e-5, ("dpo", False): 5e-6}
SFT_COLUMNS = ("prompt", "completion", "messages")  # `messages`: snapshots built before SFT rows were prompt–completion


@dataclass
class StageResult:
    metrics: dict
    model_dir: Path  # what the next stage starts from: full weights, or (final stage only) an adapter over its base


@dataclass
class Stage:
    """One stage's inputs: where it starts, where it writes, and whether its adapter may stay unmerged."""

    config: RunConfig
    choices: dict
    snapshot: Path
    start: str
    folder: Path
    keep_adapter: bool  # the final stage's adapter over an external base: saved as is, not merged

    @property
    def lora(self) -> bool:
        return self.config.lora.enabled


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
            if state.is_world_process_zero:
                with log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"stage": stage, "step": state.global_step, **(logs or {})}) + "\n")

    return JsonlLog()


def learning_rate(config: RunConfig, settings: StageSettings, kind: str) -> float:
    return settings.learning_rate or DEFAULT_LR[kind, config.lora.enabled]


def _common_args(stage: Stage, settings: StageSettings, kind: str, has_eval: bool) -> dict:
    config, choices = stage.config, stage.choices
    if has_eval and settings.save_steps % settings.eval_steps:
        raise ConfigError(
            f"{kind}.save_steps ({settings.save_steps}) must be a multiple of {kind}.eval_steps "
            f"({settings.eval_steps}): the checkpoint with the best held-out loss is the one kept"
        )
    return {
        "output_dir": str(stage.folder / "checkpoints"),
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "learning_rate": learning_rate(config, settings, kind),
        "per_device_train_batch_size": settings.batch_size,
        "per_device_eval_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "warmup_steps": settings.warmup_ratio,  # a float below 1 is a share of the steps
        "bf16": choices["precision"] == "bf16",
        "fp16": choices["precision"] == "fp16",
        "activation_checkpointing": choices["gradient_checkpointing"],
        "use_cpu": choices["device"] == "cpu",
        "ddp_find_unused_parameters": False,
        "report_to": "none",
        "logging_steps": settings.logging_steps,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": 2,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": settings.eval_steps,
        "load_best_model_at_end": has_eval,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
        "max_length": config.max_length,
        "seed": config.seed,
        "include_num_input_tokens_seen": "non_padding",
    }


def trl_config(config_class, kind: str, settings: StageSettings, ours: dict):
    """TRL's config for the stage: Quorum's settings, then the run config's own `trl` fields over them."""
    try:
        return config_class(**(ours | settings.trl))
    except TypeError as exc:
        raise ConfigError(f"{kind}.trl: {exc}") from exc


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


def _tokenizer(stage: Stage):
    """The start model's tokenizer, carrying the chat template training masks with."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(stage.start))
    tokenizer.chat_template = training_template(tokenizer, stage.config.chat_template, stage.start)
    return tokenizer


def _trainer(trainer_class, args, stage: Stage, tokenizer, kind: str, train, evaluation, **extra):
    """A TRL trainer with the run's model, LoRA, JSONL log and (with an eval set) early stopping."""
    from transformers import EarlyStoppingCallback

    callbacks = [_log_callback(stage.folder.parent / "train_log.jsonl", kind)]
    if evaluation is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=stage.config.early_stopping_patience))
    return trainer_class(
        model=load_model(stage.start, stage.choices, trainable=not stage.lora),
        args=args,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=_lora(stage.config),
        callbacks=callbacks,
        **extra,
    )


def _train(trainer, stage: Stage) -> dict:
    """Train, resuming from the stage's last checkpoint; the figures every stage records."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = stage.folder / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.exists() else None
    tokens_before = json.loads((Path(last) / "trainer_state.json").read_text())["num_input_tokens_seen"] if last else 0
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    wall = time.perf_counter() - started
    args = trainer.args
    tokens = trainer.state.num_input_tokens_seen - tokens_before  # gathered over every process
    return {
        "train_loss": result.metrics.get("train_loss"),
        "train_tokens": tokens,
        "tokens_per_s": tokens / wall if wall else None,
        "wall_s": wall,
        "steps": trainer.state.global_step,
        "resumed_from_step": int(Path(last).name.split("-")[-1]) if last else 0,
        "learning_rate": args.learning_rate,
        "effective_batch": args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
        "world_size": args.world_size,
    }


def _save(trainer, stage: Stage, tokenizer) -> Path:
    """Save what the stage trained; return a folder a later stage or a ModelVersion can load. Every process takes
    part in saving (FSDP and ZeRO-3 gather the full weights for it); merging reads the saved adapter on the main
    process; the others wait until it is written."""
    main = trainer.is_world_process_zero()
    fsdp = getattr(trainer.accelerator.state, "fsdp_plugin", None)
    if fsdp is not None:
        fsdp.set_state_dict_type("FULL_STATE_DICT")  # a sharded save holds no usable adapter or model
    saved = stage.folder / ("adapter" if stage.lora else "model")
    trainer.save_model(str(saved))
    if main:
        tokenizer.save_pretrained(str(saved))
    result = saved
    if stage.lora and not stage.keep_adapter:
        result = stage.folder / "merged"
        if main:
            merge_saved(stage.start, saved, result, stage.choices, tokenizer)
    trainer.accelerator.wait_for_everyone()
    return result


def domain_mix(rows, domain: str, general_share: float, seed: int):
    """The rows of `domain`, plus just enough rows of other domains to make `general_share` of the result."""
    own = rows.filter(lambda row: row["domain"] == domain)
    general = rows.filter(lambda row: row["domain"] != domain).shuffle(seed=seed)
    if len(own) == 0:
        raise ValueError(f"domain_sft: the snapshot has no rows of domain {domain!r}")
    wanted = min(len(general), round(len(own) * general_share / (1 - general_share)))
    from datasets import concatenate_datasets

    return concatenate_datasets([own, general.select(range(wanted))])


def run_sft(stage: Stage) -> StageResult:
    """Supervised fine-tuning on the snapshot's conversations, loss only on the assistant turns annotators wrote."""
    return _sft(stage, "sft")


def run_domain_sft(stage: Stage) -> StageResult:
    """SFT on one domain's rows with general instruction rows mixed back in, so the model does not forget."""
    return _sft(stage, "domain_sft")


def sft_trainer(stage: Stage, kind: str):
    """The stage's SFTTrainer and its row counts ({"train_rows"}, and for domain_sft the "domain_rows" and
    "general_rows" of the mix). A prompt–completion row trains only on its completion's
    assistant turns (TRL's completion and assistant masks together); the prompt, imported turns included, is context."""
    from trl import SFTConfig, SFTTrainer

    settings = getattr(stage.config, kind)
    domain = settings if kind == "domain_sft" else None
    columns = (*SFT_COLUMNS, "domain") if domain else SFT_COLUMNS
    train = _load_split(stage.snapshot, "sft", "train", columns)
    if train is None:
        raise ValueError(f"{stage.snapshot}/sft.train.jsonl is missing or empty")
    evaluation = _load_split(stage.snapshot, "sft", "eval", columns)
    rows = {}
    if domain:
        train = domain_mix(train, domain.domain, domain.general_share, stage.config.seed)
        rows["domain_rows"] = sum(name == domain.domain for name in train["domain"])
        rows["general_rows"] = len(train) - rows["domain_rows"]
        train = train.remove_columns("domain")
        evaluation = evaluation.filter(lambda row: row["domain"] == domain.domain) if evaluation is not None else None
        evaluation = evaluation.remove_columns("domain") if evaluation is not None and len(evaluation) else None
    ours = _common_args(stage, settings, "sft", evaluation is not None)
    ours |= {
        "assistant_only_loss": True,
        "packing": stage.choices["packing"],
        "use_liger_kernel": stage.choices["liger"],
    }
    args = trl_config(SFTConfig, kind, settings, ours)
    trainer = _trainer(SFTTrainer, args, stage, _tokenizer(stage), kind, train, evaluation)
    return trainer, {"train_rows": len(train), **rows}


def _sft(stage: Stage, kind: str) -> StageResult:
    with PeakMemory() as memory:
        trainer, rows = sft_trainer(stage, kind)
        has_eval = trainer.eval_dataset is not None
        before = trainer.evaluate()["eval_loss"] if has_eval else None
        figures = _train(trainer, stage)
        after = trainer.evaluate()["eval_loss"] if has_eval else None
    metrics = {"eval_loss_before": before, "eval_loss": after, **rows, **figures}
    return StageResult({**metrics, "peak_memory_mb": memory.mb}, _save(trainer, stage, trainer.processing_class))


def run_dpo(stage: Stage) -> StageResult:
    """Direct preference optimisation from `stage.start`, which is also the reference: with LoRA the start model
    with the adapter disabled, in full fine-tuning a frozen second copy of it."""
    from trl import DPOConfig, DPOTrainer

    columns = ("prompt", "chosen", "rejected")
    train = _load_split(stage.snapshot, "dpo", "train", columns)
    if train is None:
        raise ValueError(f"{stage.snapshot}/dpo.train.jsonl is missing or empty")
    evaluation = _load_split(stage.snapshot, "dpo", "eval", columns)
    settings = stage.config.dpo
    tokenizer = _tokenizer(stage)
    with PeakMemory() as memory:
        ours = _common_args(stage, settings, "dpo", evaluation is not None) | {"beta": settings.beta}
        args = trl_config(DPOConfig, "dpo", settings, ours)
        reference = None if stage.lora else load_model(stage.start, stage.choices, trainable=False)
        trainer = _trainer(DPOTrainer, args, stage, tokenizer, "dpo", train, evaluation, ref_model=reference)
        figures = _train(trainer, stage)
        after = trainer.evaluate() if evaluation is not None else {}
    metrics = {
        "eval_loss": after.get("eval_loss"),
        "eval_reward_accuracy": after.get("eval_rewards/accuracies"),
        "eval_reward_margin": after.get("eval_rewards/margins"),
        **figures,
        "peak_memory_mb": memory.mb,
    }
    return StageResult(metrics, _save(trainer, stage, tokenizer))
