"""The admin pages' forms: they turn posted fields into typed values; annotation.project_settings.settings_check
holds the rules (ranges, labels, the mix), the same for the API."""

import re
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from annotation.audit import Action
from annotation.guidelines import MAX_GUIDELINES_CHARS, MAX_NOTE_CHARS
from annotation.project_settings import SETTINGS_FIELDS
from annotation.taxonomy import MAX_TEXT_CHARS, Kind

_LIST_SPLIT = re.compile(r"[,\n]")
LABEL_FIELDS = ("task_types", "harm_categories")  # edited as text, a label a line


class LabelList(forms.CharField):
    """Labels typed one a line or comma-separated, as a list (blank entries dropped)."""

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [label.strip() for label in _LIST_SPLIT.split(text) if label.strip()]


def labels_text(labels) -> str:
    return "\n".join(labels or [])


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, help_text="In the project's addresses: lower-case letters, digits, '-'.")
    kinds = forms.MultipleChoiceField(choices=Kind.choices, required=False)
    overlap = forms.IntegerField()
    queue_choice = forms.BooleanField(required=False)


class ProjectSettingsForm(forms.Form):
    """Every setting; the task-type mix comes as one percentage field per task type (`mix_<type>`)."""

    name = forms.CharField(max_length=200)
    kinds = forms.MultipleChoiceField(choices=Kind.choices, required=False)
    task_types = LabelList(max_length=10_000)
    overlap = forms.IntegerField()
    lease_seconds = forms.IntegerField()
    gold_rate = forms.FloatField()
    repeat_rate = forms.FloatField()
    model_review_share = forms.FloatField()
    require_rationale = forms.BooleanField(required=False)
    require_review = forms.BooleanField(required=False)
    prioritise_coverage = forms.BooleanField(required=False)
    queue_choice = forms.BooleanField(required=False)
    harm_categories = LabelList(max_length=10_000)
    system_prompt = forms.CharField(required=False, strip=False, max_length=MAX_TEXT_CHARS)

    def __init__(self, *args, task_types: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.mix_names = {f"mix_{task_type}": task_type for task_type in task_types}
        for name in self.mix_names:
            self.fields[name] = forms.FloatField(required=False, min_value=0)

    def settings(self) -> dict:
        """The cleaned fields as the settings service takes them: the mix as shares (0 to 1), zero shares left out."""
        data = dict(self.cleaned_data)
        mix = {}
        for name, task_type in self.mix_names.items():
            percent = data.pop(name, None)
            if percent:
                mix[task_type] = round(percent / 100, 6)
        data["task_type_mix"] = mix
        return data


def settings_initial(project) -> dict:
    """The settings form's values for the project as stored."""
    plain = (name for name in SETTINGS_FIELDS if name not in (*LABEL_FIELDS, "task_type_mix"))
    values = {name: getattr(project, name) for name in plain}
    values |= {name: labels_text(getattr(project, name)) for name in LABEL_FIELDS}
    for task_type in project.task_types:
        share = project.task_type_mix.get(task_type)
        values[f"mix_{task_type}"] = f"{share * 100:g}" if share else ""
    return values


class ConfirmDeleteForm(forms.Form):
    confirm = forms.CharField(max_length=300, strip=False, error_messages={"required": "type the project's name."})


class GuidelinesForm(forms.Form):
    text = forms.CharField(required=False, strip=False, max_length=MAX_GUIDELINES_CHARS)
    note = forms.CharField(required=False, max_length=MAX_NOTE_CHARS)
    action = forms.ChoiceField(choices=[("save", "Save"), ("preview", "Preview")], required=False)


class GuidelinesPreviewForm(forms.Form):
    text = forms.CharField(required=False, strip=False, max_length=MAX_GUIDELINES_CHARS)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(choices=[("", "any action"), *Action.choices], required=False)
    actor = forms.CharField(required=False, max_length=150)
    since = forms.DateField(required=False, help_text="From this day on.")
    until = forms.DateField(required=False, help_text="Up to and including this day.")

    def filters(self) -> dict:
        """The filters for annotation.audit.audit_events, days as the instants they start and end."""
        data = self.cleaned_data
        zone = timezone.get_current_timezone()
        since = datetime.combine(data["since"], time.min, zone) if data["since"] else None
        until = None
        if data["until"] and data["until"] < date.max:
            until = datetime.combine(data["until"] + timedelta(days=1), time.min, zone)
        return {"action": data["action"], "actor": data["actor"].strip(), "since": since, "until": until}
