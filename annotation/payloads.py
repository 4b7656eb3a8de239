"""Validation of the kind-specific payload an annotator submits for an item."""

from annotation.errors import InvalidInput
from annotation.models import Item, Project
from annotation.taxonomy import (
    CRITERIA,
    HARM_CATEGORIES,
    MAX_MESSAGES,
    MAX_RATIONALE_CHARS,
    MAX_TEXT_CHARS,
    PAIRWISE_KINDS,
    REFUSAL_STYLES,
    STRENGTHS,
    TIE,
    Kind,
    Safety,
)

ALLOWED_KEYS = {
    Kind.DEMONSTRATION: {"response", "instruction", "task_type", "continuation"},
    Kind.REFUSAL: {"response", "refusal_style", "harm_category", "disagree", "disagree_reason"},
    Kind.PREFERENCE: {"choice", "strength", "criteria", "rationale", "all_unacceptable", "better_response"},
    Kind.MODEL_REVIEW: {"choice", "strength", "criteria", "rationale", "all_unacceptable", "better_response"},
}


class _Checker:
    def __init__(self, payload: dict):
        self.payload = payload
        self.errors: list[dict] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append({"field": f"payload.{field}", "message": message})

    def text(self, field: str, *, required: bool, limit: int = MAX_TEXT_CHARS) -> None:
        value = self.payload.get(field)
        if value is None or value == "":
            if required:
                self.fail(field, "is required")
        elif not isinstance(value, str):
            self.fail(field, "must be a string")
        elif required and not value.strip():
            self.fail(field, "must not be blank")
        elif len(value) > limit:
            self.fail(field, f"is {len(value)} characters; the limit is {limit}")

    def one_of(self, field: str, allowed, *, required: bool) -> None:
        value = self.payload.get(field)
        if value is None:
            if required:
                self.fail(field, f"is required: one of {', '.join(allowed)}")
        elif value not in allowed:
            self.fail(field, f"unknown value {value!r}; expected one of {', '.join(allowed)}")

    def flag(self, field: str) -> bool:
        value = self.payload.get(field, False)
        if not isinstance(value, bool):
            self.fail(field, "must be true or false")
            return False
        return value

    def response_choice(self, field: str, value, count: int) -> None:
        if value == TIE or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count):
            return
        self.fail(field, f"must be a response id from 0 to {count - 1} or 'tie'")


def _continuation(check: _Checker) -> None:
    turns = check.payload.get("continuation", [])
    if not isinstance(turns, list) or len(turns) > MAX_MESSAGES:
        check.fail("continuation", f"must be a list of at most {MAX_MESSAGES} turns")
        return
    for i, turn in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if not isinstance(turn, dict) or turn.get("role") != expected or set(turn) != {"role", "content"}:
            check.fail(f"continuation[{i}]", f"must be {{'role': '{expected}', 'content': ...}}: turns alternate")
        elif not isinstance(turn["content"], str) or not turn["content"].strip():
            check.fail(f"continuation[{i}].content", "must not be blank")
        elif len(turn["content"]) > MAX_TEXT_CHARS:
            check.fail(f"continuation[{i}].content", f"is over {MAX_TEXT_CHARS} characters")
    if len(turns) % 2:
        check.fail("continuation", "must end with the assistant's reply to the last user turn")


def _demonstration(check: _Checker, project: Project) -> None:
    check.text("response", required=True)
    check.text("instruction", required=False)
    check.one_of("task_type", project.task_types, required=False)
    _continuation(check)


def _refusal(check: _Checker, item: Item) -> None:
    check.text("response", required=True)
    if item.safety == Safety.SHOULD_REFUSE:
        check.one_of("refusal_style", REFUSAL_STYLES, required=True)
    elif "refusal_style" in check.payload:
        check.fail("refusal_style", "applies only to should_refuse items; write the helpful answer instead")
    check.one_of("harm_category", HARM_CATEGORIES, required=False)
    if check.flag("disagree"):
        check.text("disagree_reason", required=True, limit=MAX_RATIONALE_CHARS)
    elif check.payload.get("disagree_reason"):
        check.fail("disagree_reason", "is only kept when 'disagree' is true")


def _pairwise(check: _Checker, item: Item, project: Project) -> None:
    count = len(item.responses)
    payload = check.payload
    if "choice" not in payload:
        check.fail("choice", f"is required: a response id from 0 to {count - 1} or 'tie'")
    else:
        check.response_choice("choice", payload["choice"], count)
    if payload.get("choice") == TIE:
        if payload.get("strength") is not None:
            check.fail("strength", "must be empty when the choice is a tie")
    else:
        check.one_of("strength", STRENGTHS, required=True)
    criteria = payload.get("criteria", {})
    if not isinstance(criteria, dict):
        check.fail("criteria", f"must be an object keyed by {', '.join(CRITERIA)}")
    else:
        for name, value in criteria.items():
            if name not in CRITERIA:
                check.fail(f"criteria.{name}", f"unknown criterion; expected one of {', '.join(CRITERIA)}")
            else:
                check.response_choice(f"criteria.{name}", value, count)
    check.text("rationale", required=project.require_rationale, limit=MAX_RATIONALE_CHARS)
    check.flag("all_unacceptable")
    check.text("better_response", required=False)


def validate_payload(*, item: Item, project: Project, payload) -> dict:
    """Return the payload if it fits the item's kind; raise InvalidInput naming every bad field."""
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object", field="payload")
    check = _Checker(payload)
    for key in sorted(set(payload) - ALLOWED_KEYS[item.kind]):
        check.fail(key, f"is not a field of a {item.kind} annotation")
    if item.kind == Kind.DEMONSTRATION:
        _demonstration(check, project)
    elif item.kind == Kind.REFUSAL:
        _refusal(check, item)
    elif item.kind in PAIRWISE_KINDS:
        _pairwise(check, item, project)
    if check.errors:
        first = check.errors[0]
        raise InvalidInput(f"{first['field']} {first['message']}", field=first["field"], errors=check.errors)
    return payload


STRENGTH_SCORE = {strength: rank for rank, strength in enumerate(STRENGTHS, start=1)}


def preference_columns(*, item: Item, payload: dict, response_order: list[int]) -> dict:
    """The columns agreement is computed from: the signed strength between responses 0 and 1, and the left one."""
    if item.kind not in PAIRWISE_KINDS:
        return {"preference_score": None, "shown_first": None}
    choice = payload["choice"]
    if choice == TIE:
        score = 0
    elif choice in (0, 1):
        score = STRENGTH_SCORE[payload["strength"]] * (1 if choice == 0 else -1)
    else:
        score = None
    return {"preference_score": score, "shown_first": response_order[0] if response_order else None}
