"""The run config (YAML): the same file on a laptop and on a GPU cluster. No Django, no heavy imports."""

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml


class ConfigError(ValueError):
    pass


@dataclass
class LoraSettings:
    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclass
class StageSettings:
    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float | None = None  # None: 2e-4 for LoRA SFT, 5e-5 for LoRA DPO, 1/10 of those in full fine-tuning
    batch_size: int = 8
    grad_accum: int = 1
    warmup_ratio: float = 0.03
    eval_steps: int = 50
    save_steps: int = 200
    logging_steps: int = 10
    beta: float = 0.1  # DPO only
    base_model: str | None = None  # start this stage from another model than the previous stage's result
    domain: str = ""  # domain_sft only: rows of this domain
    general_share: float = 0.2  # domain_sft only: share of general (other-domain) rows mixed back in
    trl: dict = field(default_factory=dict)  # more SFTConfig / DPOConfig fields, e.g. {loss_type: [ipo]}


@dataclass
class LaunchSettings:
    processes: int | None = None  # above 1: `accelerate launch` with this many (one per GPU; gloo on CPU);
    # empty: 1, or the accelerate config's num_processes
    accelerate_config: str = ""  # ddp | fsdp | zero3 (shipped in training/accelerate/) or a config file


@dataclass
class RunConfig:
    base_model: str = ""
    stages: list[str] = field(default_factory=lambda: ["sft", "dpo"])
    sft: StageSettings = field(default_factory=StageSettings)
    domain_sft: StageSettings = field(default_factory=StageSettings)
    dpo: StageSettings = field(default_factory=lambda: StageSettings(batch_size=4))
    lora: LoraSettings = field(default_factory=LoraSettings)
    launch: LaunchSettings = field(default_factory=LaunchSettings)
    chat_template: str = ""  # a shipped training template's name (see chat_templates.py) or a .jinja file
    max_length: int = 1024
    precision: str = "auto"  # auto | bf16 | fp16 | fp32
    gradient_checkpointing: bool | None = None  # None: on when a GPU is used
    packing: bool | None = None  # None: on when FlashAttention is installed (padding-free needs it)
    liger: bool = False  # Liger kernels for SFT when installed (deprecated in TRL 1.16; for comparisons)
    early_stopping_patience: int = 3
    merge: bool = False  # also merge a final adapter whose base is the configured base_model
    seed: int = 0
    use_cpu: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


STAGES = ("sft", "domain_sft", "dpo")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(names))}")
    return cls(**data)


def load_config(path: Path, **overrides) -> RunConfig:
    """Read and check a run config file; `overrides` (e.g. base_model) win over the file."""
    return config_from_text(Path(path).read_text(), **overrides)


def config_from_text(text: str, **overrides) -> RunConfig:
    """Parse and check a run config given as YAML text."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError("config: must be a mapping of settings")
    data |= {k: v for k, v in overrides.items() if v is not None}
    for name, cls in (
        ("sft", StageSettings),
        ("domain_sft", StageSettings),
        ("dpo", StageSettings),
        ("lora", LoraSettings),
        ("launch", LaunchSettings),
    ):
        data[name] = _build(cls, data.get(name, {}) or {}, name)
    config = _build(RunConfig, data, "config")
    if not config.base_model:
        raise ConfigError("base_model: give a local path or a hub id")
    if not config.stages or any(stage not in STAGES for stage in config.stages):
        raise ConfigError(f"stages: a list drawn from {', '.join(STAGES)}")
    if "domain_sft" in config.stages and not config.domain_sft.domain:
        raise ConfigError("domain_sft.domain: name the domain whose rows this stage trains on")
    if not 0 <= config.domain_sft.general_share < 1:
        raise ConfigError("domain_sft.general_share: a share from 0 to below 1")
    if config.launch.processes is not None and config.launch.processes < 1:
        raise ConfigError("launch.processes: 1 or more")
    if config.chat_template:
        from training.pipeline.chat_templates import check_option

        check_option(config.chat_template)
    if config.precision not in PRECISIONS:
        raise ConfigError(f"precision: one of {', '.join(PRECISIONS)}")
    return config
