"""The training pages' forms: they turn posted fields into typed values, and the services judge them (snapshot
options by `snapshot_config`, loop settings by `schedule_update`, a retry's run config by `cycle_retry`)."""

import dataclasses
import json

from django import forms

from annotation.errors import InvalidInput
from annotation.taxonomy import STRENGTHS
from annotation.text import loads
from training.policy import Policy
from training.snapshots.config import MIX_BY, TIE_POLICIES, SnapshotConfig


class JsonOption(forms.CharField):
    """A JSON object typed into a text box, parsed with the same limits as API bodies."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return loads(value)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from exc


class SnapshotForm(forms.Form):
    system_prompt = forms.CharField(required=False, strip=False, max_length=20_000)
    include_sft = forms.BooleanField(required=False)
    include_dpo = forms.BooleanField(required=False)
    include_model_review = forms.BooleanField(required=False)
    exclude_gold = forms.BooleanField(required=False)
    min_agreement = forms.FloatField(required=False)
    ties = forms.ChoiceField(required=False, choices=[(t, t) for t in TIE_POLICIES])
    min_strength = forms.ChoiceField(required=False, choices=[(s, s) for s in STRENGTHS])
    eval_fraction = forms.FloatField(required=False)
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    pin_eval_from = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    mix_by = forms.ChoiceField(required=False, choices=[(m, m) for m in MIX_BY])
    mix_weights = JsonOption(required=False, max_length=10_000)
    mix_caps = JsonOption(required=False, max_length=10_000)

    def options(self) -> dict:
        """The options that were given (checkboxes always are); blank fields keep the defaults."""
        known = SnapshotConfig().as_dict()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name in known and (isinstance(known[name], bool) or value not in (None, ""))
        }

    def first_error(self) -> str:
        name, messages = next(iter(self.errors.items()))
        return f"{name}: {messages[0]}"


POLICY_FIELDS = tuple(field.name for field in dataclasses.fields(Policy))


class ScheduleForm(forms.Form):
    """The schedule page's fields, typed; training.schedules.schedule_update judges the values and
    `add_service_errors` puts its errors on the fields they name."""

    enabled = forms.BooleanField(required=False)
    cron = forms.CharField(required=False, max_length=100)
    min_new_annotations = forms.IntegerField(required=False)
    snapshot_config = JsonOption(required=False, max_length=20_000)
    run_config_yaml = forms.CharField(required=False, strip=False, max_length=100_000)
    auto_promote = forms.BooleanField(required=False)
    auto_reject = forms.BooleanField(required=False)
    min_judgments = forms.IntegerField()
    safety_margin = forms.FloatField()
    forgetting_margin = forms.FloatField()
    review_overlap = forms.IntegerField(required=False)
    generate_max_new_tokens = forms.IntegerField()
    onpolicy_prompts = forms.IntegerField()

    @classmethod
    def initial_for(cls, schedule) -> dict:
        """The form's values for a saved (or default) schedule, the policy's defaults filled in."""
        policy = Policy.from_dict(schedule.policy).as_dict()
        return {
            "enabled": schedule.enabled,
            "cron": schedule.cron,
            "min_new_annotations": schedule.min_new_annotations,
            "snapshot_config": json.dumps(schedule.snapshot_config, indent=2) if schedule.snapshot_config else "",
            "run_config_yaml": schedule.run_config_yaml,
            **{name: policy[name] for name in POLICY_FIELDS},
        }

    def values(self) -> dict:
        """schedule_update's keyword arguments."""
        data = self.cleaned_data
        return {
            "enabled": data["enabled"],
            "cron": data["cron"],
            "min_new_annotations": data["min_new_annotations"],
            "snapshot_config": {} if data["snapshot_config"] is None else data["snapshot_config"],
            "run_config_yaml": data["run_config_yaml"],
            "policy": {name: data[name] for name in POLICY_FIELDS},
        }

    def add_service_errors(self, exc: InvalidInput) -> None:
        """Each of the service's errors on its field: `policy.<setting>` on that setting's field, snapshot options
        on `snapshot_config`; one the form has no field for goes above the form."""
        for error in exc.errors or [{"field": exc.field, "message": exc.message}]:
            name = (error.get("field") or "").removeprefix("policy.").split(".")[0]
            self.add_error(name if name in self.fields else None, error["message"])


class CycleRetryForm(forms.Form):
    """A retry's optional corrected run config; blank retries with the cycle's own."""

    run_config_yaml = forms.CharField(required=False, strip=False, max_length=100_000)

    def run_config(self) -> str | None:
        return self.cleaned_data["run_config_yaml"] or None
