"""Chat templates for training: assistant-only loss needs {% generation %} markers around what the assistant
writes. Quorum ships training variants for common families (chat_templates/*.jinja) and names TRL's own; the run
config's `chat_template` picks one by name or gives a .jinja file. With none set, the tokenizer's own template is
used when it has the markers, else TRL's training variant of it when TRL knows the family; otherwise the run stops
with an error that names the option."""

import re
from pathlib import Path

from training.pipeline.config import ConfigError

SHIPPED = Path(__file__).resolve().parent / "chat_templates"
TRL_TRAINING = {  # names for the training templates TRL 1.16 ships
    "llama3.0": "llama3_training",
    "qwen2.5": "qwen2_5_training",
    "qwen3": "qwen3_training",
}


def _trl_template(name: str) -> Path:
    import trl

    return Path(trl.__file__).resolve().parent / "chat_templates" / f"{name}.jinja"


def template_names() -> list[str]:
    return sorted([path.stem for path in SHIPPED.glob("*.jinja")] + list(TRL_TRAINING))


GENERATION = re.compile(r"{%-?\s*generation\s*-?%}")


def has_generation_markers(template: str | None) -> bool:
    return bool(template and GENERATION.search(template))


def check_option(option: str) -> None:
    """A run config's `chat_template` names a template or a template file (whose content is read at training)."""
    if (
        not (SHIPPED / f"{option}.jinja").exists()
        and option not in TRL_TRAINING
        and Path(option).suffix
        not in (
            ".jinja",
            ".j2",
        )
    ):
        raise ConfigError(
            f"chat_template: {option!r} is neither a shipped template ({', '.join(template_names())}) nor a .jinja file"
        )


def template_text(option: str) -> str:
    """The template a run config names: a shipped name, a TRL training template's name, or a .jinja file."""
    if (SHIPPED / f"{option}.jinja").exists():
        return (SHIPPED / f"{option}.jinja").read_text(encoding="utf-8")
    if option in TRL_TRAINING:
        return _trl_template(TRL_TRAINING[option]).read_text(encoding="utf-8")
    path = Path(option)
    if path.suffix in (".jinja", ".j2") and path.is_file():
        text = path.read_text(encoding="utf-8")
        if not has_generation_markers(text):
            raise ConfigError(
                f"chat_template: {option} has no {{% generation %}} … {{% endgeneration %}} markers around the "
                "assistant's turns, so the loss cannot be limited to them"
            )
        return text
    raise ConfigError(
        f"chat_template: {option!r} is neither a shipped template ({', '.join(template_names())}) "
        "nor a .jinja file that exists"
    )


def training_template(tokenizer, option: str, source: str) -> str:
    """The template to train `source`'s tokenizer with (see the module's docstring)."""
    if option:
        return template_text(option)
    own = tokenizer.chat_template
    if has_generation_markers(own):
        return own
    if own:
        from trl.chat_template_utils import get_training_chat_template

        try:
            return get_training_chat_template(tokenizer) or own
        except ValueError:
            pass
    what = "has a chat template without" if own else "has no chat template, so no"
    raise ConfigError(
        f"chat_template: the tokenizer of {source} {what} {{% generation %}} markers, so training cannot mask "
        f"everything but the assistant's turns. Set `chat_template:` in the run config to one of "
        f"{', '.join(template_names())} (the model's family), or to a .jinja file with the markers."
    )
