"""The data browser's query, bulk action and comment forms: any junk value is a 400 or 422 that names its field."""

from django import forms

from annotation.bulk_actions import MAX_EXTRA_OVERLAP, MAX_REASON_CHARS
from annotation.comments import MAX_COMMENT_CHARS
from annotation.data_browser import AGREEMENTS, MIN_SEARCH_CHARS, REVIEW_STATUSES, SEARCH_LIMIT, SORT_CHOICES, STATUSES
from annotation.errors import InvalidInput
from annotation.tags import clean_tag
from annotation.taxonomy import Kind

PER_PAGE = 50
MAX_PAGE = SEARCH_LIMIT // PER_PAGE
BULK_ACTIONS = [
    ("requeue", "Send back to the pool"),
    ("gold_set", "Mark gold"),
    ("gold_clear", "Unmark gold"),
    ("exclude", "Exclude from exports"),
    ("include", "Include in exports again"),
    ("tag_add", "Add tag"),
    ("tag_remove", "Remove tag"),
    ("export_jsonl", "Export as JSONL"),
    ("export_csv", "Export as CSV"),
]
EXPORT_ACTIONS = {"export_jsonl": "jsonl", "export_csv": "csv"}
TAG_ACTIONS = ("tag_add", "tag_remove")
FILTER_NAMES = (
    "kind",
    "task_type",
    "domain",
    "tag",
    "status",
    "annotator",
    "agreement",
    "review_status",
    "gold",
    "created_from",
    "created_to",
    "q",
)


def _choices(values) -> list[tuple[str, str]]:
    return [("", "any"), *((value, value.replace("_", " ")) for value in values)]


class TagField(forms.CharField):
    """One tag, by annotation.tags.clean_tag (stripped and lower-cased); the rule checks the length too."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return clean_tag(value)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from exc


class BrowseForm(forms.Form):
    kind = forms.ChoiceField(choices=_choices(Kind.values), required=False)
    task_type = forms.CharField(max_length=100, required=False)
    domain = forms.CharField(max_length=100, required=False)
    tag = TagField(required=False, widget=forms.Select)
    status = forms.ChoiceField(choices=_choices(STATUSES), required=False)
    annotator = forms.CharField(max_length=150, required=False)
    agreement = forms.ChoiceField(choices=_choices(AGREEMENTS), required=False)
    review_status = forms.ChoiceField(choices=_choices(REVIEW_STATUSES), required=False)
    gold = forms.TypedChoiceField(
        choices=[("", "any"), ("yes", "yes"), ("no", "no")],
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,
    )
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(min_length=MIN_SEARCH_CHARS, max_length=200, required=False, label="Search")
    sort = forms.ChoiceField(choices=[(value, value) for value in SORT_CHOICES], required=False)
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)

    def __init__(self, data, *, tags: list[tuple[str, int]] = ()):
        """`tags`: the project's (tag, items), offered in the tag filter; a tag asked for that no item carries any
        more is offered too, and matches nothing."""
        super().__init__(data)
        offered = [(name, f"{name} ({count})") for name, count in tags]
        asked = (data.get("tag") or "").strip().lower()
        if asked and asked not in dict(offered):
            offered.append((asked, f"{asked} (0)"))
        self.fields["tag"].widget.choices = [("", "any"), *offered]

    def clean(self):
        data = super().clean()
        data["sort"] = data.get("sort") or "id"
        data["page"] = data.get("page") or 1
        return data

    def filters(self) -> dict:
        """The cleaned query as items_browse's keyword arguments (the page left out)."""
        return {name: self.cleaned_data[name] for name in (*FILTER_NAMES, "sort")}


class BulkForm(forms.Form):
    """A bulk action on the checked rows (`item`, repeated) or on every row matching the page's filter."""

    action = forms.ChoiceField(choices=BULK_ACTIONS, error_messages={"required": "choose an action."})
    scope = forms.ChoiceField(choices=[("checked", "checked rows"), ("all", "all rows matching the filter")])
    item = forms.TypedMultipleChoiceField(coerce=int, required=False)
    extra = forms.IntegerField(min_value=1, max_value=MAX_EXTRA_OVERLAP, required=False)
    reason = forms.CharField(max_length=MAX_REASON_CHARS, required=False)
    tag = TagField(required=False)

    def __init__(self, data, *, item_ids=()):
        super().__init__(data)
        self.fields["item"].choices = [(str(item_id), str(item_id)) for item_id in item_ids]

    def clean(self):
        data = super().clean()
        if data.get("action") == "requeue" and not data.get("extra"):
            self.add_error("extra", "say how many more annotators each item needs.")
        if data.get("action") == "exclude" and not (data.get("reason") or "").strip():
            self.add_error("reason", "say why these items are excluded from exports.")
        if data.get("action") in TAG_ACTIONS and not data.get("tag") and "tag" not in self.errors:
            self.add_error("tag", "name the tag to add or remove.")
        if data.get("scope") == "checked" and not data.get("item") and "item" not in self.errors:
            self.add_error("item", "check at least one row, or choose all rows matching the filter.")
        return data


def posted_ids(data) -> list[str]:
    """The checked rows' ids as posted, only those that are whole numbers: the choices BulkForm accepts."""
    return [value for value in data.getlist("item") if value.isdecimal() and len(value) < 19]


class ItemTagForm(forms.Form):
    """Add a tag to one item, or remove one from it (the item page)."""

    action = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove")])
    tag = TagField(error_messages={"required": "name the tag."})


class CommentForm(forms.Form):
    text = forms.CharField(max_length=MAX_COMMENT_CHARS, error_messages={"required": "write the comment."})


class CommentTabForm(forms.Form):
    tab = forms.ChoiceField(choices=[("", "open"), ("open", "open"), ("resolved", "resolved")], required=False)
