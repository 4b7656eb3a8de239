"""Automatic choices that depend on the machine and the launcher; every one can be overridden in the run config."""

import importlib.util
import os

from training.pipeline.config import RunConfig


def sharded() -> str:
    """ "fsdp" or "deepspeed" when `accelerate launch` shards the model across processes, else ""."""
    for name in ("fsdp", "deepspeed"):
        if os.environ.get(f"ACCELERATE_USE_{name.upper()}", "").lower() in ("1", "true"):
            return name
    return ""


def resolve(config: RunConfig, world_size: int) -> dict:
    """The choices this run will use, written into the resolved config."""
    import torch

    gpu = torch.cuda.is_available() and not config.use_cpu
    bf16_ok = gpu and torch.cuda.is_bf16_supported()
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if bf16_ok else ("fp16" if gpu else "fp32")
    flash = gpu and importlib.util.find_spec("flash_attn") is not None
    liger = bool(config.liger) and importlib.util.find_spec("liger_kernel") is not None
    return {
        "device": torch.cuda.get_device_name(0) if gpu else "cpu",
        "world_size": world_size,
        "sharding": sharded(),
        "precision": precision,
        "gradient_checkpointing": gpu if config.gradient_checkpointing is None else config.gradient_checkpointing,
        "packing": flash if config.packing is None else config.packing,
        "attn_implementation": "flash_attention_2" if flash else "sdpa",
        "liger": liger,  # deprecated in TRL 1.16 (its own fused LM-head loss is on by default): only when asked
        "load_on_local_gpu": gpu and not sharded(),
    }
