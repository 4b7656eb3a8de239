"""The review queue's forms: which work to show (filters and the skip cursor), a decision, and an undo."""

from urllib.parse import urlencode

from django import forms

from annotation.models import Membership, RejectReason, Review
from annotation.payload_display import response_letter, task_type_label
from annotation.taxonomy import MAX_RATIONALE_CHARS, Kind

KIND_LABELS = {
    Kind.DEMONSTRATION: "Demonstrations",
    Kind.REFUSAL: "Refusal cases",
    Kind.PREFERENCE: "Better responses to preference pairs",
    Kind.MODEL_REVIEW: "Better responses to model comparisons",
}
FLAGGED_CHOICES = [("", "Flagged or not"), ("yes", "Flagged by the annotator"), ("no", "Not flagged")]
FILTERS = ("annotator", "kind", "task_type", "flagged")
ID = {"required": False, "min_value": 1, "max_value": 2**63 - 1}


class ReviewFilterForm(forms.Form):
    """Which pending work the queue shows, and where in it: `after` skips past an annotation, `show` asks for one
    (the one just undone), `done` names the decision just made (its message and Undo after a plain post)."""

    annotator = forms.ChoiceField(required=False, label="Annotator")
    kind = forms.ChoiceField(required=False, label="Kind", choices=[("", "Every kind"), *KIND_LABELS.items()])
    task_type = forms.ChoiceField(required=False, label="Task type")
    flagged = forms.ChoiceField(required=False, label="Flag", choices=FLAGGED_CHOICES)
    after = forms.IntegerField(**ID)
    show = forms.IntegerField(**ID)
    done = forms.IntegerField(**ID)

    def __init__(self, data, *, membership: Membership):
        super().__init__(data)
        project = membership.project

        def annotators():  # asked only to check a name or to show the list, not on each swap
            names = Membership.objects.filter(project=project).values_list("user__username", flat=True)
            return [("", "Everyone"), *((name, name) for name in sorted(names))]

        self.fields["annotator"].choices = annotators
        task_types = list(project.task_types or [])
        self.fields["task_type"].choices = [("", "Every task type"), *((t, task_type_label(t)) for t in task_types)]
        self.fields["annotator"].error_messages["invalid_choice"] = "no such member of this project."
        for name in ("kind", "task_type", "flagged"):
            self.fields[name].error_messages["invalid_choice"] = "%(value)s is not one of the choices."

    def queue_filters(self) -> dict:
        """The cleaned filters as review_queue's keyword arguments."""
        data = self.cleaned_data
        flagged = {"yes": True, "no": False}.get(data["flagged"])
        return {
            "annotator": data["annotator"],
            "kind": data["kind"],
            "task_type": data["task_type"],
            "flagged": flagged,
        }

    def query(self, **extra) -> str:
        """The filters (and `extra`) as a query string, so that every link and form of the queue keeps them."""
        data = {name: self.cleaned_data.get(name) for name in FILTERS} | extra
        return urlencode({name: value for name, value in data.items() if value not in (None, "")})

    def description(self) -> str:
        """What the filters select, in words, for the heading ("" when nothing is filtered)."""
        data = self.cleaned_data
        parts = []
        if data["kind"]:
            parts.append(KIND_LABELS[data["kind"]].lower())
        if data["task_type"]:
            parts.append(f"task type {task_type_label(data['task_type']).lower()}")
        if data["annotator"]:
            parts.append(f"by {data['annotator']}")
        if data["flagged"]:
            parts.append(dict(FLAGGED_CHOICES)[data["flagged"]].lower())
        return ", ".join(parts)


class ReviewForm(forms.Form):
    annotation = forms.IntegerField(min_value=1, max_value=2**63 - 1, label="Annotation")
    decision = forms.ChoiceField(
        label="Decision",
        choices=Review.Decision.choices,
        error_messages={"required": "choose Accept, Reject or Save edit and accept."},
    )
    reason = forms.ChoiceField(
        required=False,
        label="Reject because",
        choices=[("", "—"), *RejectReason.choices],
        error_messages={"invalid_choice": "%(value)s is not one of the reasons."},
    )
    note = forms.CharField(required=False, strip=False, max_length=MAX_RATIONALE_CHARS, label="Note to the annotator")

    def clean(self):
        data = super().clean()
        if data.get("decision") == Review.Decision.REJECT and not data.get("reason"):
            self.add_error("reason", "choose one of the reasons, then reject again.")
        return data


class DisputeFilterForm(forms.Form):
    open = forms.BooleanField(required=False, label="Only items without a final label")


def adjudicated_label(choice) -> str:
    """An adjudication's final label as the disputes list shows it: A, B, Tie, or Ranked."""
    if isinstance(choice, list):
        return "Ranked"
    return response_letter(choice)


class UndoForm(forms.Form):
    review = forms.IntegerField(min_value=1, max_value=2**63 - 1, label="Decision to undo")
