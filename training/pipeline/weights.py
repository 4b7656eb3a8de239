"""Loading models to train and merging what was trained. Trainable weights are fp32 (bf16/fp16 autocast does the
compute), so small updates are not rounded away; a frozen LoRA base stays in the half precision. A model folder may
hold a LoRA adapter: its base (named in adapter_config.json) is loaded and the adapter merged into it. Merging works
on saved files on the main process, never on weights that FSDP or ZeRO-3 has sharded across processes."""

import json
from pathlib import Path

HALF = {"bf16": "bfloat16", "fp16": "float16"}


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def adapter_base(path: str | Path) -> str:
    return json.loads((Path(path) / "adapter_config.json").read_text())["base_model_name_or_path"]


def tokenizer_source(path: str | Path) -> str:
    """Where the tokenizer of the model at `path` is: the folder itself, or an adapter's base when it has none."""
    if is_adapter(path) and not (Path(path) / "tokenizer_config.json").is_file():
        return adapter_base(path)
    return str(path)


def _dtype(choices: dict, trainable: bool):
    import torch

    if trainable:
        return torch.float32
    return getattr(torch, HALF.get(choices["precision"], "float32"))


def load_model(path: str, choices: dict, *, trainable: bool):
    """The model at `path` (merging it into its base when it is an adapter), in fp32 when its own weights will be
    trained, else in the run's precision; on a GPU under plain data parallelism, on this process's GPU."""
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": _dtype(choices, trainable), "attn_implementation": choices["attn_implementation"]}
    if choices.get("load_on_local_gpu"):
        from accelerate import PartialState

        kwargs["device_map"] = {"": PartialState().local_process_index}
    if not is_adapter(path):
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(adapter_base(path), **kwargs)
    return PeftModel.from_pretrained(base, path).merge_and_unload()


def merge_saved(start: str, adapter: Path, target: Path, choices: dict, tokenizer) -> Path:
    """Merge the adapter saved at `adapter` into a fresh copy of `start` and save a full model at `target`."""
    from peft import PeftModel

    base = load_model(start, {**choices, "load_on_local_gpu": False}, trainable=False)
    PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target
