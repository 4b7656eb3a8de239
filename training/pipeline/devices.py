"""Automatic choices that depend on the machine; every one can be overridden in the run config."""

import importlib.util

from training.pipeline.config import RunConfig


def resolve(config: RunConfig) -> dict:
    """The choices this run will use, written into the resolved config."""
    import torch

    gpu = torch.cuda.is_available() and not config.use_cpu
    bf16_ok = gpu and torch.cuda.is_bf16_supported()
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if bf16_ok else ("fp16" if gpu else "fp32")
    flash = importlib.util.find_spec("flash_attn") is not None
    return {
        "device": torch.cuda.get_device_name(0) if gpu else "cpu",
        "precision": precision,
        "gradient_checkpointing": gpu if config.gradient_checkpointing is None else config.gradient_checkpointing,
        "packing": (gpu and flash) if config.packing is None else config.packing,
        "attn_implementation": "flash_attention_2" if gpu and flash else "sdpa",
        "liger": (importlib.util.find_spec("liger_kernel") is not None) if config.liger is None else config.liger,
    }
