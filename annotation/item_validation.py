"""Validation of one imported item line against the JSONL contract in DESIGN.md."""

import hashlib
import json

import orjson

from annotation.errors import InvalidInput
from annotation.models import Project
from annotation.payloads import RANKED_FROM
from annotation.tags import clean_tags
from annotation.taxonomy import (
    MAX_MESSAGES,
    MAX_META_BYTES,
    MAX_RESPONSES,
    MAX_SHORT_CHARS,
    MAX_TEXT_CHARS,
    MESSAGE_ROLES,
    PAIRWISE_KINDS,
    TIE,
    Kind,
    Safety,
)

_COMMON_FIELDS = {"kind", "prompt", "messages", "task_type", "domain", "meta", "gold", "tags"}
ALLOWED_FIELDS = {
    Kind.DEMONSTRATION: _COMMON_FIELDS,
    Kind.REFUSAL: _COMMON_FIELDS | {"safety", "harm_category"},
    Kind.PREFERENCE: _COMMON_FIELDS | {"responses"},
    Kind.MODEL_REVIEW: _COMMON_FIELDS | {"responses"},
}

# Gold answers score annotators' A/B/tie judgments (gold accuracy); a ranking would be kept and never scored.
RANKED_GOLD = (
    f"cannot be set on an item with {RANKED_FROM} or more responses: gold accuracy scores A/B judgments only, "
    "so a ranked gold answer would never be used"
)

_KINDS = frozenset(Kind.values)
_RESPONSE_FIELDS = frozenset({"text", "source"})
_SAFETIES = frozenset(Safety.values)


class LineErrors(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors)
        self.errors = errors


def normalise_text(text: str) -> str:
    """`text` with each run of whitespace made one space and none at the ends (str.split's whitespace is re's \\s).
    Text already so is returned as it is: no printable character is whitespace but the space."""
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def content_hash(kind: str, prompt: str, messages: list | None, responses: list) -> str:
    """Identity of an item: its kind, its conversation and, for pairwise kinds, the response texts."""
    turns = messages if messages is not None else [{"role": "user", "content": prompt}]
    key = {
        "kind": kind,
        "turns": [[t["role"], normalise_text(t["content"])] for t in turns],
        "responses": [normalise_text(r["text"]) for r in responses],
    }
    # orjson writes exactly what json.dumps(key, ensure_ascii=False, separators=(",", ":")) does, in a tenth the time
    return hashlib.sha256(orjson.dumps(key)).hexdigest()


def _text(obj: dict, field: str, errors: list, *, required: bool, limit: int = MAX_TEXT_CHARS) -> str:
    value = obj.get(field)
    if value is None:
        if required:
            errors.append((field, "is required"))
        return ""
    if not isinstance(value, str):
        errors.append((field, f"must be a string, not {type(value).__name__}"))
        return ""
    if required and (not value or value.isspace()):
        errors.append((field, "must not be blank"))
    if len(value) > limit:
        errors.append((field, f"is {len(value)} characters; the limit is {limit}"))
    return value


def _choice(obj: dict, field: str, allowed, errors: list, *, required: bool) -> str:
    value = _text(obj, field, errors, required=required, limit=MAX_SHORT_CHARS)
    if value and value not in allowed:
        errors.append((field, f"unknown value {value!r}; expected one of {', '.join(sorted(allowed))}"))
    return value


def _messages(value, errors: list) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        errors.append(("messages", "must be a non-empty list of {role, content} objects"))
        return None
    if len(value) > MAX_MESSAGES:
        errors.append(("messages", f"has {len(value)} turns; the limit is {MAX_MESSAGES}"))
        return None
    clean = []
    for i, turn in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            errors.append((where, "must be an object with exactly 'role' and 'content'"))
            continue
        if not isinstance(turn["role"], str) or turn["role"] not in MESSAGE_ROLES:
            errors.append((f"{where}.role", f"unknown role {turn['role']!r}; expected system, user or assistant"))
        if not isinstance(turn["content"], str) or not turn["content"].strip():
            errors.append((f"{where}.content", "must be a non-blank string"))
        elif len(turn["content"]) > MAX_TEXT_CHARS:
            errors.append((f"{where}.content", f"is {len(turn['content'])} characters; the limit is {MAX_TEXT_CHARS}"))
        clean.append(turn)
    if clean and clean[-1].get("role") != "user":
        errors.append(("messages", "must end with a user turn: the annotator or model writes the next reply"))
    return clean


def _responses(value, errors: list) -> list:
    if not isinstance(value, list) or len(value) < 2:
        errors.append(("responses", "must be a list of at least 2 responses"))
        return []
    if len(value) > MAX_RESPONSES:
        errors.append(("responses", f"has {len(value)} responses; the limit is {MAX_RESPONSES}"))
        return []
    clean = []
    for i, response in enumerate(value):
        if not isinstance(response, dict) or not response.keys() <= _RESPONSE_FIELDS:
            errors.append((f"responses[{i}]", "must be an object with 'text' and optional 'source'"))
            continue
        sub: list = []
        text = _text(response, "text", sub, required=True)
        source = _text(response, "source", sub, required=False, limit=MAX_SHORT_CHARS)
        if sub:
            errors.extend((f"responses[{i}].{field}", message) for field, message in sub)
        clean.append({"text": text, "source": source})
    return clean


def gold_errors(kind: str, value, responses: list) -> list[tuple[str, str]]:
    """What is wrong with `value` as the gold answer of an item of `kind`."""
    errors: list = []
    _gold(kind, value, responses, errors)
    return errors


def _gold(kind: str, value, responses: list, errors: list):
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.append(("gold", "must be an object"))
        return None
    if kind in PAIRWISE_KINDS and len(responses) >= RANKED_FROM:
        errors.append(("gold", RANKED_GOLD))
    elif kind in PAIRWISE_KINDS:
        choice = value.get("choice")
        valid = choice == TIE or (
            isinstance(choice, int) and not isinstance(choice, bool) and 0 <= choice < len(responses)
        )
        if not valid:
            errors.append(("gold.choice", f"must be a response index from 0 to {max(len(responses) - 1, 0)} or 'tie'"))
    elif not isinstance(value.get("response"), str) or not value["response"].strip():
        errors.append(("gold.response", "is required: the expected response text"))
    return value


def validate_item(obj, project: Project) -> dict:
    """Return the Item fields for one parsed JSONL object, or raise LineErrors naming each bad field."""
    fields = validate_line(obj, project)
    del fields["tags"]
    return fields


def validate_line(obj, project: Project) -> dict:
    """validate_item's Item fields and the line's `tags` (annotation.tags.clean_tags), for an import."""
    if not isinstance(obj, dict):
        raise LineErrors([("", "must be a JSON object")])
    errors: list[tuple[str, str]] = []
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise LineErrors([("kind", f"unknown kind {kind!r}; expected one of {', '.join(Kind.values)}")])
    if kind not in project.kinds:
        raise LineErrors([("kind", f"kind {kind!r} is not enabled in project {project.slug!r}")])
    if not obj.keys() <= ALLOWED_FIELDS[kind]:
        unknown = sorted(obj.keys() - ALLOWED_FIELDS[kind])
        errors.append((unknown[0], f"unknown field(s) for {kind}: {', '.join(unknown)}"))

    has_prompt, has_messages = "prompt" in obj, "messages" in obj
    if has_prompt == has_messages:
        errors.append(("prompt", "give exactly one of 'prompt' or 'messages'"))
    prompt = _text(obj, "prompt", errors, required=has_prompt)
    messages = _messages(obj.get("messages"), errors)
    task_type = _choice(obj, "task_type", project.task_types, errors, required=False)
    domain = _text(obj, "domain", errors, required=False, limit=MAX_SHORT_CHARS)
    safety = harm_category = ""
    if kind == Kind.REFUSAL:
        safety = _choice(obj, "safety", _SAFETIES, errors, required=True)
        harm_category = _choice(
            obj, "harm_category", project.harm_categories, errors, required=safety == Safety.SHOULD_REFUSE
        )
    responses = _responses(obj.get("responses"), errors) if kind in PAIRWISE_KINDS else []
    gold = _gold(kind, obj.get("gold"), responses, errors)
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        errors.append(("meta", "must be an object"))
    elif _json_length_over(meta, MAX_META_BYTES):
        errors.append(("meta", f"is over {MAX_META_BYTES} bytes"))
    tags = _tags(obj.get("tags", []), errors)
    if errors:
        raise LineErrors(errors)
    return {
        "kind": kind,
        "prompt": prompt,
        "messages": messages,
        "task_type": task_type,
        "domain": domain,
        "safety": safety,
        "harm_category": harm_category,
        "responses": responses,
        "gold": gold,
        "is_gold": gold is not None,
        "meta": meta,
        "content_hash": content_hash(kind, prompt, messages, responses),
        "longer_response": _longer(responses),
        "tags": tags,
    }


def _json_length_over(value, limit: int) -> bool:
    """Whether json.dumps(value) is over `limit` characters. It is never more than three times orjson's UTF-8 (a
    separator gains a space, a 2- or 4-byte character becomes a 6- or 12-character escape), so most values are
    measured without it."""
    return len(orjson.dumps(value)) * 3 > limit and len(json.dumps(value)) > limit


def _tags(value, errors: list) -> list[str]:
    try:
        return clean_tags(value)
    except InvalidInput as exc:
        errors.append(("tags", exc.message))
        return []


def _longer(responses: list) -> int | None:
    if len(responses) < 2 or len(responses[0]["text"]) == len(responses[1]["text"]):
        return None
    return 0 if len(responses[0]["text"]) > len(responses[1]["text"]) else 1
