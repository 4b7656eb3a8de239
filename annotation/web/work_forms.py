"""The annotator's own work list: which review state to show."""

from django import forms

REVIEW_FILTERS = [
    ("all", "All my work"),
    ("rejected", "Returned to you"),
    ("pending", "Awaiting review"),
    ("accepted", "Accepted"),
]


class MyWorkFilterForm(forms.Form):
    review = forms.ChoiceField(
        choices=REVIEW_FILTERS,
        required=False,
        error_messages={"invalid_choice": "Show all, rejected, pending or accepted work; “%(value)s” is none of them."},
    )
