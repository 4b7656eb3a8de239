"""Translate the workspace's HTML form fields into kind payloads, and payloads back into form values."""

from annotation.models import Assignment, Item
from annotation.taxonomy import CRITERIA, PAIRWISE_KINDS, TIE, Kind, Safety

SIDES = ("left", "right")
FORM_FIELDS = [
    "response",
    "refusal_style",
    "harm_category",
    "disagree",
    "disagree_reason",
    "choice",
    "strength",
    "rationale",
    "all_unacceptable",
    "better_response",
    *(f"criterion_{name}" for name in CRITERIA),
]


def _side_to_id(side: str, order: list[int]):
    if side == TIE:
        return TIE
    if side in SIDES:
        return order[SIDES.index(side)]
    return side or None


def _id_to_side(value, order: list[int]) -> str:
    if value == TIE:
        return TIE
    return SIDES[order.index(value)] if value in order[:2] else ""


def payload_from_form(item: Item, assignment: Assignment, data) -> dict:
    """The payload an annotator meant, from the posted form; empty optional fields are left out."""

    def text(name: str) -> str:
        return data.get(name, "").strip()

    payload: dict = {}
    if item.kind in PAIRWISE_KINDS:
        order = assignment.response_order
        payload["choice"] = _side_to_id(text("choice"), order)
        if payload["choice"] is None:
            del payload["choice"]
        criteria = {name: _side_to_id(text(f"criterion_{name}"), order) for name in CRITERIA}
        if any(criteria.values()):
            payload["criteria"] = {name: value for name, value in criteria.items() if value is not None}
        for name in ("strength", "rationale", "better_response"):
            if text(name):
                payload[name] = text(name)
        payload["all_unacceptable"] = data.get("all_unacceptable") == "on"
        return payload
    payload["response"] = text("response")
    if item.kind == Kind.DEMONSTRATION:
        users, assistants = data.getlist("turn_user"), data.getlist("turn_assistant")
        turns = []
        for user_turn, assistant_turn in zip(users, assistants, strict=False):
            if user_turn.strip() or assistant_turn.strip():
                turns += [{"role": "user", "content": user_turn}, {"role": "assistant", "content": assistant_turn}]
        if turns:
            payload["continuation"] = turns
    if item.kind == Kind.REFUSAL:
        if item.safety == Safety.SHOULD_REFUSE and text("refusal_style"):
            payload["refusal_style"] = text("refusal_style")
        if text("harm_category") and text("harm_category") != item.harm_category:
            payload["harm_category"] = text("harm_category")
        payload["disagree"] = data.get("disagree") == "on"
        if text("disagree_reason"):
            payload["disagree_reason"] = text("disagree_reason")
    return payload


def form_values(item: Item, assignment: Assignment, payload: dict) -> dict:
    """Form values that show a submitted payload again (for editing it)."""
    values = {name: payload.get(name, "") for name in FORM_FIELDS}
    values["disagree"] = "on" if payload.get("disagree") else ""
    values["all_unacceptable"] = "on" if payload.get("all_unacceptable") else ""
    if item.kind in PAIRWISE_KINDS:
        order = assignment.response_order
        values["choice"] = _id_to_side(payload.get("choice"), order)
        for name, value in payload.get("criteria", {}).items():
            values[f"criterion_{name}"] = _id_to_side(value, order)
    turns = payload.get("continuation", [])
    values["turns"] = [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns) - 1, 2)]
    return values


def draft_values(data) -> dict:
    """What autosave keeps: the raw form fields, including follow-up turns and the submit's client_id."""
    values = {name: data.get(name, "") for name in [*FORM_FIELDS, "client_id", "time_spent_ms"]}
    values["turns"] = [
        list(pair) for pair in zip(data.getlist("turn_user"), data.getlist("turn_assistant"), strict=False)
    ]
    return values
