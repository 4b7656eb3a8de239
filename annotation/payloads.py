"""Validation of the kind-specific payload an annotator submits for an item."""

from annotation.errors import InvalidInput
from annotation.models import Item, Project
from annotation.taxonomy import (
    CRITERIA,
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

PAIRWISE_KEYS = {"choice", "strength", "criteria", "ranking", "rationale", "all_unacceptable", "better_response"}
ALLOWED_KEYS = {
    Kind.DEMONSTRATION: {"response", "instruction", "task_type", "continuation"},
    Kind.REFUSAL: {"response", "refusal_style", "harm_category", "disagree", "disagree_reason"},
    Kind.PREFERENCE: PAIRWISE_KEYS,
    Kind.MODEL_REVIEW: PAIRWISE_KEYS,
}
# An item with this many responses or more is ranked (DESIGN.md: "rank three to eight"); fewer is an A/B choice.
RANKED_FROM = 3
RANKING_EXAMPLE = "[[2], [0, 1]]"


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


def _refusal(check: _Checker, item: Item, project: Project) -> None:
    check.text("response", required=True)
    if item.safety == Safety.SHOULD_REFUSE:
        check.one_of("refusal_style", REFUSAL_STYLES, required=True)
    elif "refusal_style" in check.payload:
        check.fail("refusal_style", "applies only to should_refuse items; write the helpful answer instead")
    check.one_of("harm_category", project.harm_categories, required=False)
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
    if message := strength_error(payload.get("choice"), payload.get("strength")):
        check.fail("strength", message)
    criteria = payload.get("criteria", {})
    if not isinstance(criteria, dict):
        check.fail("criteria", f"must be an object keyed by {', '.join(CRITERIA)}")
    else:
        for name, value in criteria.items():
            if name not in CRITERIA:
                check.fail(f"criteria.{name}", f"unknown criterion; expected one of {', '.join(CRITERIA)}")
            else:
                check.response_choice(f"criteria.{name}", value, count)
    if "ranking" in payload:
        check.fail("ranking", f"applies to items with {RANKED_FROM} or more responses; this one takes 'choice'")
    _judgment_notes(check, project)


def _judgment_notes(check: _Checker, project: Project) -> None:
    check.text("rationale", required=project.require_rationale, limit=MAX_RATIONALE_CHARS)
    check.flag("all_unacceptable")
    check.text("better_response", required=False)


def is_ranked(item: Item) -> bool:
    """Whether the item is judged by ranking its responses rather than choosing between two."""
    return item.kind in PAIRWISE_KINDS and len(item.responses) >= RANKED_FROM


def _ranking(check: _Checker, item: Item, project: Project) -> None:
    count = len(item.responses)
    for field in ("choice", "strength", "criteria"):
        if field in check.payload:
            check.fail(field, f"does not apply: this item has {count} responses; rank them in 'ranking' instead")
    for field, message in ranking_errors(check.payload.get("ranking"), count):
        check.fail(field, message)
    _judgment_notes(check, project)


def ranking_errors(ranking, count: int, field: str = "ranking") -> list[tuple[str, str]]:
    """What is wrong with `ranking` as a ranking of `count` responses, as (field, message) pairs; [] if nothing."""
    expected = f"a list of tiers, best first, each a list of response ids, e.g. {RANKING_EXAMPLE}"
    if ranking is None:
        return [(field, f"is required: {expected}")]
    if not isinstance(ranking, list) or not ranking:
        return [(field, f"must be {expected}")]
    errors, seen = [], []
    for position, tier in enumerate(ranking):
        valid = isinstance(tier, list) and tier
        valid = valid and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count for i in tier)
        if not valid:
            errors.append((f"{field}[{position}]", f"must be a non-empty list of response ids from 0 to {count - 1}"))
        else:
            seen += tier
    for response in sorted({i for i in seen if seen.count(i) > 1}):
        errors.append((field, f"lists response {response} more than once; each response goes in one tier"))
    if missing := sorted(set(range(count)) - set(seen)):
        ids = ", ".join(map(str, missing))
        errors.append((field, f"leaves out response {ids}: rank every response (equal ones share a tier)"))
    return errors


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
        _refusal(check, item, project)
    elif is_ranked(item):
        _ranking(check, item, project)
    elif item.kind in PAIRWISE_KINDS:
        _pairwise(check, item, project)
    if check.errors:
        first = check.errors[0]
        raise InvalidInput(f"{first['field']} {first['message']}", field=first["field"], errors=check.errors)
    return payload


STRENGTH_SCORE = {strength: rank for rank, strength in enumerate(STRENGTHS, start=1)}


def strength_error(choice, strength) -> str | None:
    """The one rule for a judgment's strength, for every surface: a tie has none ("" or absent), a choice has one."""
    if choice == TIE:
        return None if strength in (None, "") else "must be empty when the choice is a tie"
    if strength in (None, ""):
        return f"is required: one of {', '.join(STRENGTHS)}"
    if strength not in STRENGTHS:
        return f"unknown value {strength!r}; expected one of {', '.join(STRENGTHS)}"
    return None


def preference_columns(*, item: Item, payload: dict, response_order: list[int]) -> dict:
    """The columns agreement is computed from: the signed strength between responses 0 and 1, and the left one."""
    if item.kind not in PAIRWISE_KINDS or is_ranked(item):
        return {"preference_score": None, "shown_first": None}
    choice = payload["choice"]
    if choice == TIE:
        score = 0
    elif choice in (0, 1):
        score = STRENGTH_SCORE[payload["strength"]] * (1 if choice == 0 else -1)
    else:
        score = None
    return {"preference_score": score, "shown_first": response_order[0] if response_order else None}


def pair_votes(payload: dict, count: int) -> dict[tuple[int, int], int]:
    """What one judgment of a ranked item says about each pair (i, j), i < j: +1 prefers i, -1 prefers j, 0 ties.

    A `choice` (stored before ranked items took rankings) reads as the chosen response above all others, which
    share the next place; a tie as all responses in one place.
    """
    ranking = payload.get("ranking")
    if ranking is None:
        choice = payload.get("choice")
        if choice == TIE:
            ranking = [list(range(count))]
        elif isinstance(choice, int) and 0 <= choice < count:
            ranking = [[choice], [i for i in range(count) if i != choice]]
        else:
            return {}
    tier = {response: position for position, members in enumerate(ranking) for response in members}
    return {(i, j): (tier[i] < tier[j]) - (tier[i] > tier[j]) for i in range(count) for j in range(i + 1, count)}
