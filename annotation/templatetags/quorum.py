from django import template

register = template.Library()

STYLE_LABELS = {
    "decline_explain": "Decline and explain",
    "safe_alternative": "Offer a safe alternative",
    "redirect_help": "Redirect to help",
}


@register.filter
def criterion(values: dict, name: str) -> str:
    return values.get(f"criterion_{name}", "")


@register.filter
def style_label(style: str) -> str:
    return STYLE_LABELS.get(style, style)


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
