"""Forms of the model pages: a promotion's optional reason, a rejection's required one, and the task types an admin
prioritises from "what to collect next"; the services (training.promotion, training.collect_next) judge the rest."""

from django import forms

REASON_MAX = 2000


class PromoteForm(forms.Form):
    reason = forms.CharField(required=False, max_length=REASON_MAX)


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX, error_messages={"required": "Say why the model is rejected."})


class PrioritiseForm(forms.Form):
    """The task types to prioritise, among those the cycle's evidence says need more data."""

    task_types = forms.MultipleChoiceField(error_messages={"required": "Choose at least one task type to prioritise."})

    def __init__(self, *args, choices: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task_types"].choices = [(name, name) for name in choices]


def first_error(form: forms.Form) -> str:
    messages = next(iter(form.errors.values()))
    return messages[0]
