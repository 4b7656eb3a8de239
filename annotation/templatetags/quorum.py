from django import template

from annotation.payload_display import humanize_code, label, payload_fields, response_letter
from annotation.revisions import Resubmission
from annotation.revisions import resubmission as latest_resubmission
from annotation.taxonomy import (
    HARM_CATEGORY_LABELS,
    KIND_LABELS,
    METRIC_LABELS,
    REFUSAL_STYLE_LABELS,
    REVIEW_DECISION_LABELS,
    REVIEW_STATUS_LABELS,
    SAFETY_LABELS,
    STRENGTH_LABELS,
    TASK_TYPE_LABELS,
)

register = template.Library()


@register.filter
def criterion(values: dict, name: str) -> str:
    return values.get(f"criterion_{name}", "")


def _labeller(labels: dict):
    return lambda value: label(labels, value)


for _name, _labels in {
    "style_label": REFUSAL_STYLE_LABELS,
    "kind_label": KIND_LABELS,
    "safety_label": SAFETY_LABELS,
    "harm_label": HARM_CATEGORY_LABELS,
    "strength_label": STRENGTH_LABELS,
    "review_status_label": REVIEW_STATUS_LABELS,
    "decision_label": REVIEW_DECISION_LABELS,
    "task_type_label": TASK_TYPE_LABELS,
}.items():
    register.filter(_name, _labeller(_labels))


@register.filter
def flag_text(flag: str) -> str:
    """A quality flag ("left_share: favours one side") with its measure in words."""
    name, sep, why = str(flag).partition(": ")
    return f"{label(METRIC_LABELS, name)}{sep}{why}" if sep else str(flag)


@register.filter
def code_label(value) -> str:
    """Any other stored code (a role, a status) in words: "edit_accept" -> "Edit accept"."""
    return "" if value in (None, "") else humanize_code(value)


@register.filter
def letter(index) -> str:
    """A response index as a letter (0 -> A); "tie" as Tie."""
    return response_letter(index)


@register.filter
def payload_rows(payload: dict) -> list[tuple[str, str]]:
    """An annotation's payload as labelled fields in words."""
    return payload_fields(payload or {})


@register.filter
def mul(value, factor) -> float:
    return round(float(value) * float(factor), 2)


@register.filter
def bar_height(count: int) -> int:
    return max(22, 22 * int(count))


@register.filter
def percent(value, digits: int = 0) -> str:
    return "—" if value is None else f"{100 * float(value):.{int(digits)}f}%"


@register.filter
def points(value) -> str:
    """A change of rate, e.g. "+4.2 pts"."""
    return "—" if value is None else f"{100 * float(value):+.1f} pts"


@register.filter
def number(value, digits: int = 3) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


@register.filter
def key(mapping: dict, name: str):
    """mapping[name], for keys a template cannot spell (they contain dots)."""
    return mapping.get(name, "")


@register.filter
def ranking_text(ranking) -> str:
    """A ranking as "2 > 0 = 1": response ids best first, tied ones joined by "="."""
    return " > ".join(" = ".join(map(str, tier)) for tier in ranking)


@register.filter
def resubmission(history) -> Resubmission | None:
    """From an annotation's history: the rejection its annotator answered with a revision, and what they changed."""
    return latest_resubmission(history or [])
