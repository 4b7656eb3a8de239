"""The error-analysis page's filter: a dimension and one of its groups, a kind of failure, and the page; a value
that is not one of the cycle's is a clear error naming its field, never a 500."""

from django import forms

from training.error_analysis import DIMENSIONS, FAILURES


class FailureFilterForm(forms.Form):
    dimension = forms.ChoiceField(choices=[("", "any"), *DIMENSIONS.items()], required=False)
    group = forms.CharField(max_length=200, required=False)
    failure = forms.ChoiceField(choices=[("", "any"), *FAILURES.items()], required=False, label="Failure")
    page = forms.IntegerField(min_value=1, required=False)

    def __init__(self, *args, groups: dict[str, set[str]], **kwargs):
        """`groups`: the cycle's group names per dimension."""
        super().__init__(*args, **kwargs)
        self.groups = groups

    def clean(self):
        data = super().clean()
        dimension, group = data.get("dimension"), data.get("group")
        if group and not dimension:
            self.add_error("dimension", "Choose the dimension the group belongs to.")
        elif group and dimension and group not in self.groups.get(dimension, set()):
            label = DIMENSIONS[dimension]
            self.add_error("group", f"This cycle's eval items have no {label} {group!r}.")
        data["page"] = data.get("page") or 1
        return data
