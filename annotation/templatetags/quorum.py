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
