"""Figures on the cycle pages: rates as percentages with one decimal, their changes as signed percentage points."""

from django import template

register = template.Library()


@register.filter
def rate(value) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


@register.filter
def points(value) -> str:
    """A change of rate, e.g. "+4.2 pts"."""
    return "—" if value is None else f"{100 * float(value):+.1f} pts"
