"""A tiny causal LM built offline: a byte-level BPE tokenizer trained on given text, with the special tokens of a
model family and a chat template, and a Llama-style model of well under a million parameters. Saved like any hub
model, so the real loading code path is what tests and benchmarks exercise."""

from dataclasses import dataclass
from pathlib import Path

from training.pipeline.chat_templates import template_text


@dataclass(frozen=True)
class Family:
    special_tokens: tuple[str, ...]
    eos: str  # the end-of-turn token generation stops at
    pad: str  # distinct from eos, so the end of a turn is never masked as padding
    bos: str | None = None


FAMILIES = {
    "chatml": Family(("<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"), eos="<|im_end|>", pad="<|pad|>"),
    "llama3": Family(
        ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
        eos="<|eot_id|>",
        pad="<|finetune_right_pad_id|>",
        bos="<|begin_of_text|>",
    ),
    "mistral": Family(("<unk>", "<s>", "</s>", "[INST]", "[/INST]"), eos="</s>", pad="<pad>", bos="<s>"),
    "gemma": Family(
        ("<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"), eos="<end_of_turn>", pad="<pad>", bos="<bos>"
    ),
}


def build_tiny_model(
    folder: Path,
    texts: list[str],
    *,
    vocab_size: int = 512,
    seed: int = 0,
    family: str = "chatml",
    chat_template: str | None = None,
    shape: dict | None = None,
) -> Path:
    """Train the tokenizer on `texts`, build the model, save both to `folder`; return `folder`. The tokenizer
    carries `chat_template` (default: Quorum's training template of the family); `shape` overrides the model's
    dimensions (LlamaConfig fields, e.g. a real model's), and a model that large is saved in bf16."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    spec = FAMILIES[family]
    torch.manual_seed(seed)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = list(dict.fromkeys((spec.pad, *spec.special_tokens)))
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token=spec.pad, eos_token=spec.eos, bos_token=spec.bos
    )
    tokenizer.chat_template = chat_template if chat_template is not None else template_text(family)
    dimensions = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "initializer_range": 0.2,  # wider than the 0.02 default, so a LoRA-only run can sharpen the logits
    }
    config = LlamaConfig(
        **(dimensions | (shape or {})),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    model = LlamaForCausalLM(config)
    if model.num_parameters() > 10**7:
        model = model.to(torch.bfloat16)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
