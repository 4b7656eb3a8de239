"""What a snapshot build takes as input, validated: filters, preference aggregation, split and mix."""

import contextlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings

from annotation.errors import InvalidInput
from annotation.taxonomy import STRENGTHS

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")
TOKENIZER_RULE = "must be a hub id (org/name) or a folder in the models folder (MODELS_ROOT) that exists"
TIE_POLICIES = ("count", "ignore")
MIX_BY = ("domain", "task_type")


@dataclass(frozen=True)
class SnapshotConfig:
    system_prompt: str = ""
    include_sft: bool = True
    include_dpo: bool = True
    include_model_review: bool = True
    min_agreement: float = 0.6
    ties: str = "count"  # count: a tie vote backs neither response; ignore: tie votes are left out of the count
    min_strength: str = "slight"
    exclude_gold: bool = True
    eval_fraction: float = 0.1
    seed: int = 0
    pin_eval_from: int | None = None
    mix_by: str = "domain"
    mix_weights: dict[str, float] = field(default_factory=dict)  # {"legal": 0.8, "*": 0.2}: shares of SFT train
    mix_caps: dict[str, int] = field(default_factory=dict)  # {"code": 500}: at most this many SFT train rows
    template_tokenizer: str = ""  # a hub id or a folder under MODELS_ROOT: render every row with its chat template
    template_max_length: int = 2048

    def as_dict(self) -> dict:
        return asdict(self)


def _fail(field_name: str, message: str):
    raise InvalidInput(f"{field_name}: {message}", field=field_name)


def snapshot_config(data: dict) -> SnapshotConfig:
    """Validate a snapshot request; unknown keys and out-of-range values are errors that name the field."""
    if not isinstance(data, dict):
        _fail("config", "must be an object")
    known = SnapshotConfig.__dataclass_fields__
    for key in data:
        if key not in known:
            _fail(key, f"unknown option; expected one of {', '.join(known)}")
    config = SnapshotConfig(**data)
    if not isinstance(config.system_prompt, str) or len(config.system_prompt) > 20_000:
        _fail("system_prompt", "must be text of at most 20,000 characters")
    for name in ("include_sft", "include_dpo", "include_model_review", "exclude_gold"):
        if not isinstance(getattr(config, name), bool):
            _fail(name, "must be true or false")
    if not isinstance(config.min_agreement, int | float) or not 0.5 <= config.min_agreement <= 1:
        _fail("min_agreement", "must be between 0.5 and 1")
    if config.ties not in TIE_POLICIES:
        _fail("ties", f"must be one of {', '.join(TIE_POLICIES)}")
    if config.min_strength not in STRENGTHS:
        _fail("min_strength", f"must be one of {', '.join(STRENGTHS)}")
    if not isinstance(config.eval_fraction, int | float) or not 0 <= config.eval_fraction <= 0.5:
        _fail("eval_fraction", "must be between 0 and 0.5")
    if not isinstance(config.seed, int) or isinstance(config.seed, bool):
        _fail("seed", "must be an integer")
    if config.pin_eval_from is not None and not isinstance(config.pin_eval_from, int):
        _fail("pin_eval_from", "must be a snapshot id")
    if config.mix_by not in MIX_BY:
        _fail("mix_by", f"must be one of {', '.join(MIX_BY)}")
    weights = config.mix_weights
    if not isinstance(weights, dict) or any(not isinstance(w, int | float) or w <= 0 for w in weights.values()):
        _fail("mix_weights", "must map a group (or '*') to a positive share")
    if weights and abs(sum(weights.values()) - 1) > 0.001:
        _fail("mix_weights", "shares must add up to 1")
    caps = config.mix_caps
    if not isinstance(caps, dict) or any(not isinstance(c, int) or c < 0 for c in caps.values()):
        _fail("mix_caps", "must map a group to a row count")
    if config.template_tokenizer:
        tokenizer_source(config.template_tokenizer)
    if not isinstance(config.template_max_length, int) or config.template_max_length < 1:
        _fail("template_max_length", "must be a positive number of tokens")
    if not config.include_sft and not config.include_dpo:
        _fail("include_sft", "a snapshot needs SFT rows, DPO rows or both")
    return config


def tokenizer_source(value) -> str:
    """The absolute folder under MODELS_ROOT that `value` names, else `value` as a hub id.

    Nothing outside MODELS_ROOT is looked at, and a refusal says the same whether a folder is forbidden or
    missing, so the option cannot be used to learn what exists on the server."""
    if isinstance(value, str) and value and "\0" not in value and len(value) <= 500:
        root = Path(settings.MODELS_ROOT).resolve()
        folder = (root / value).resolve()
        with contextlib.suppress(OSError):  # e.g. a name too long for the file system: refused like the rest
            if folder.is_relative_to(root) and folder != root and folder.is_dir():
                return str(folder)
        if HUB_ID.fullmatch(value) and ".." not in value:
            return value
    _fail("template_tokenizer", TOKENIZER_RULE)
