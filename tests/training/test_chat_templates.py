"""Training templates mask exactly what the assistant writes, its end-of-turn token included, for every family
Quorum names; a tokenizer whose template cannot mask is refused with the option to set."""

from pathlib import Path

import pytest
import yaml

from training.pipeline.chat_templates import template_names, template_text, training_template
from training.pipeline.config import ConfigError, config_from_text
from training.pipeline.tiny_model import build_tiny_model

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Name a colour."},
    {"role": "assistant", "content": "Blue."},
    {"role": "user", "content": "And another?"},
    {"role": "assistant", "content": "Green."},
]
FAMILY = {"llama3": "llama3", "llama3.0": "llama3", "mistral": "mistral", "gemma": "gemma"}
THINK = {"qwen3": "<think></think>"}  # Qwen3 answers without reasoning after an empty reasoning block
END_OF_TURN = {"llama3": "<|eot_id|>", "mistral": "</s>", "gemma": "<end_of_turn>", "chatml": "<|im_end|>"}
CORPUS = ["Be brief. Name a colour. Blue. And another? Green. Cutting Knowledge Date Today"] * 20


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("families")
    return {
        family: AutoTokenizer.from_pretrained(build_tiny_model(root / family, CORPUS, vocab_size=300, family=family))
        for family in ("chatml", "llama3", "mistral", "gemma")
    }


@pytest.mark.parametrize("name", template_names())
def test_each_training_template_masks_the_assistant_turns_and_their_end(name, tokenizers):
    from trl.chat_template_utils import is_chat_template_prefix_preserving

    family = FAMILY.get(name, "chatml")
    tokenizer = tokenizers[family]
    tokenizer.chat_template = template_text(name)
    rendered = tokenizer.apply_chat_template(
        CONVERSATION, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = rendered["input_ids"], rendered["assistant_masks"]
    trained = tokenizer.decode([token for token, keep in zip(ids, mask, strict=True) if keep])
    end = END_OF_TURN[family]
    think = THINK.get(name, "")
    assert trained.replace("\n", "").replace(" ", "") == f"{think}Blue.{end}{think}Green.{end}".replace(" ", "")
    assert "Name a colour" in tokenizer.decode(ids) and "Be brief" in tokenizer.decode(ids)
    assert is_chat_template_prefix_preserving(tokenizer)  # DPO renders the prompt alone, then prompt + answer


def test_a_llama3_tokenizer_with_its_stock_template_is_refused_naming_the_option(tokenizers):
    import trl

    stock = (Path(trl.__file__).parent / "chat_templates" / "llama3_2.jinja").read_text()
    tokenizer = tokenizers["llama3"]
    tokenizer.chat_template = stock
    with pytest.raises(
        ConfigError, match=r"chat_template: .*Set `chat_template:` in the run config to one of .*llama3"
    ):
        training_template(tokenizer, "", "meta-llama/Llama-3.2-1B-Instruct")
    assert "{% generation %}" in training_template(tokenizer, "llama3", "x").replace("{%-", "{%")


def test_unknown_template_names_and_files_without_markers_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="chat_template: 'llama4' is neither a shipped template"):
        config_from_text("base_model: x\nchat_template: llama4\n")
    plain = tmp_path / "plain.jinja"
    plain.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    with pytest.raises(ConfigError, match="has no {% generation %}"):
        template_text(str(plain))


def test_a_llama3_model_trains_with_assistant_only_loss_from_the_option(tmp_path, monkeypatch):
    """A Llama-3-style model whose tokenizer carries the stock template trains once the config names `llama3`;
    the model it saves carries the training template."""
    import trl

    from tests.training.test_pipeline import sft_row, write_jsonl
    from training.pipeline.run import run

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    stock = (Path(trl.__file__).parent / "chat_templates" / "llama3_1.jinja").read_text()
    model = build_tiny_model(tmp_path / "llama", CORPUS, vocab_size=300, family="llama3", chat_template=stock)
    write_jsonl(tmp_path / "sft.train.jsonl", [sft_row(("blue", "green"))] * 8)
    settings = {"base_model": str(model), "stages": ["sft"], "use_cpu": True, "max_length": 96}
    settings["sft"] = {"max_steps": 2, "batch_size": 4}
    with pytest.raises(ConfigError, match="chat_template"):
        run(config_from_text(yaml.safe_dump(settings)), tmp_path, tmp_path / "refused")
    metrics = run(config_from_text(yaml.safe_dump({**settings, "chat_template": "llama3"})), tmp_path, tmp_path / "out")
    assert metrics["stages"]["sft"]["steps"] == 2
    saved = (Path(metrics["final_model"]) / "chat_template.jinja").read_text()
    assert saved == template_text("llama3")
