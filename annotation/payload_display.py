"""An annotation's payload in words: labelled fields for pages, and a readable diff of two payloads."""

import difflib

from annotation.taxonomy import (
    CRITERION_LABELS,
    HARM_CATEGORY_LABELS,
    REFUSAL_STYLE_LABELS,
    STRENGTH_LABELS,
    TASK_TYPE_LABELS,
    TIE,
)

FIELD_LABELS = {
    "instruction": "Instruction",
    "response": "Response",
    "task_type": "Task type",
    "continuation": "Follow-up turns",
    "refusal_style": "Refusal style",
    "harm_category": "Harm category",
    "disagree": "Flagged by the annotator",
    "disagree_reason": "Why they disagree",
    "choice": "Choice",
    "strength": "Strength",
    "criteria": "Per criterion",
    "ranking": "Ranking",
    "rationale": "Rationale",
    "all_unacceptable": "All responses unacceptable",
    "better_response": "Better response",
}
ROLE_LABELS = {"user": "User", "assistant": "Assistant", "system": "System"}


def is_empty(value) -> bool:
    """Whether a payload value says nothing: missing, blank, unticked or an empty list (a 0 choice is a value)."""
    return value is None or value is False or value in ("", [], {})


def humanize_code(value) -> str:
    """A stored code without a label of its own, e.g. a project's extra task type, with spaces for underscores."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def label(labels: dict, value) -> str:
    """A stored value's label from `labels`, else the value in words ("" for none)."""
    if value in (None, ""):
        return ""
    return labels.get(value) or humanize_code(value)


def task_type_label(task_type: str) -> str:
    return label(TASK_TYPE_LABELS, task_type)


def response_letter(choice) -> str:
    """A response index as the letter pages show (0 -> A), a tie as "Tie"."""
    if choice == TIE:
        return "Tie"
    if isinstance(choice, int) and not isinstance(choice, bool) and 0 <= choice < 26:
        return chr(ord("A") + choice)
    return str(choice)


def field_text(name: str, value) -> str:
    """One payload field's value in words."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if name == "continuation" and isinstance(value, list):
        return "\n".join(
            f"{label(ROLE_LABELS, turn.get('role', ''))}: {turn.get('content', '')}"
            for turn in value
            if isinstance(turn, dict)
        )
    if name == "choice":
        return response_letter(value)
    if name == "ranking" and isinstance(value, list):
        return " > ".join(
            " = ".join(response_letter(index) for index in tier) for tier in value if isinstance(tier, list)
        )
    if name == "criteria" and isinstance(value, dict):
        return "; ".join(f"{label(CRITERION_LABELS, key)}: {response_letter(choice)}" for key, choice in value.items())
    labels = {
        "refusal_style": REFUSAL_STYLE_LABELS,
        "harm_category": HARM_CATEGORY_LABELS,
        "strength": STRENGTH_LABELS,
        "task_type": TASK_TYPE_LABELS,
    }.get(name)
    if labels is not None and isinstance(value, str):
        return label(labels, value)
    return "" if value is None else str(value)


def payload_fields(payload: dict) -> list[tuple[str, str]]:
    """The payload's fields as (label, text) rows in reading order; empty and false ones are left out."""
    order = list(FIELD_LABELS)
    names = sorted(payload, key=lambda name: order.index(name) if name in order else len(order))
    return [
        (FIELD_LABELS.get(name) or humanize_code(name), field_text(name, payload[name]))
        for name in names
        if not is_empty(payload[name])
    ]


def readable_diff(before: dict, after: dict) -> list[tuple[str, str]]:
    """Line diff of two payloads in words, as (mark, line) pairs: '@' names a field, then ' ', '+' or '-' lines."""
    old, new = dict(payload_fields(before)), dict(payload_fields(after))
    rows = []
    known = [name for name in FIELD_LABELS.values() if name in old or name in new]
    for name in known + sorted((set(old) | set(new)) - set(known)):
        if old.get(name, "") == new.get(name, ""):
            continue
        rows.append(("@", name))
        for line in difflib.ndiff(old.get(name, "").splitlines(), new.get(name, "").splitlines()):
            if line[:1] in "+- ":
                rows.append((line[:1], line[2:]))
    return rows
