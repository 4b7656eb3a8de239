"""The snapshot page's form: it turns posted fields into typed snapshot options; `snapshot_config` judges them."""

from django import forms

from annotation.errors import InvalidInput
from annotation.taxonomy import STRENGTHS
from annotation.text import loads
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
