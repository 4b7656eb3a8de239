"""Translate the workspace's HTML form fields into kind payloads, and payloads back into form values.

The Django forms here check the fields that are not payload (ids, versions, time on task, decisions), so that
junk in any of them is a 4xx with a message, never a 500 and never a silently invented value.
"""

import uuid

from django import forms
from django.http import HttpResponse
from django.utils.html import format_html

from annotation.assignment import MAX_SKIP_REASON, MAX_TIME_SPENT_MS
from annotation.documents import MAX_DOCUMENT_CHARS
from annotation.errors import InvalidInput
from annotation.models import Assignment, Item
from annotation.payloads import is_ranked
from annotation.queues import EVERYTHING, Queue, queue_choices
from annotation.taxonomy import (
    CRITERIA,
    MAX_RESPONSES,
    MAX_SHORT_CHARS,
    MAX_TEXT_CHARS,
    PAIRWISE_KINDS,
    TIE,
    Kind,
    Safety,
)

SIDES = ("left", "right")
FORM_FIELDS = [
    "response",
    "refusal_style",
    "harm_category",
    "disagree",
    "disagree_reason",
    "choice",
    "strength",
    "rationale",
    "all_unacceptable",
    "better_response",
    *(f"criterion_{name}" for name in CRITERIA),
    *(f"rank_{position}" for position in range(MAX_RESPONSES)),
]
LETTERS = "ABCDEFGH"


def _side_to_id(side: str, order: list[int]):
    if side == TIE:
        return TIE
    if side in SIDES:
        return order[SIDES.index(side)]
    return side or None


def _id_to_side(value, order: list[int]) -> str:
    if value == TIE:
        return TIE
    return SIDES[order.index(value)] if value in order[:2] else ""


def payload_from_form(item: Item, assignment: Assignment, data) -> dict:
    """The payload an annotator meant, from the posted form; empty optional fields are left out."""

    def text(name: str) -> str:
        return data.get(name, "").strip()

    payload: dict = {}
    if item.kind in PAIRWISE_KINDS:
        order = assignment.response_order
        payload["choice"] = _side_to_id(text("choice"), order)
        if payload["choice"] is None:
            del payload["choice"]
        criteria = {name: _side_to_id(text(f"criterion_{name}"), order) for name in CRITERIA}
        if any(criteria.values()):
            payload["criteria"] = {name: value for name, value in criteria.items() if value is not None}
        if is_ranked(item):
            payload["ranking"] = ranking_from_form(data, order)
        for name in ("strength", "rationale", "better_response"):
            if text(name):
                payload[name] = text(name)
        payload["all_unacceptable"] = data.get("all_unacceptable") == "on"
        return payload
    payload["response"] = text("response")
    if item.kind == Kind.DEMONSTRATION and (turns := _continuation(data)):
        payload["continuation"] = turns
    if item.kind == Kind.REFUSAL:
        if item.safety == Safety.SHOULD_REFUSE and text("refusal_style"):
            payload["refusal_style"] = text("refusal_style")
        if text("harm_category") and text("harm_category") != item.harm_category:
            payload["harm_category"] = text("harm_category")
        payload["disagree"] = data.get("disagree") == "on"
        if text("disagree_reason"):
            payload["disagree_reason"] = text("disagree_reason")
    return payload


def _continuation(data) -> list[dict]:
    turns = []
    for user_turn, assistant_turn in zip(data.getlist("turn_user"), data.getlist("turn_assistant"), strict=False):
        if user_turn.strip() or assistant_turn.strip():
            turns += [{"role": "user", "content": user_turn}, {"role": "assistant", "content": assistant_turn}]
    return turns


def review_changes(item: Item, data) -> dict:
    """The fields a reviewer's edit form sent, as changes to the payload (None removes a field, e.g. all turns)."""
    changes: dict = {}
    if "response" in data:
        changes["response"] = data["response"]
    if item.kind in PAIRWISE_KINDS and "better_response" in data:
        changes["better_response"] = data["better_response"]
    if item.kind == Kind.DEMONSTRATION and "turn_user" in data:
        changes["continuation"] = _continuation(data) or None
    if item.kind == Kind.REFUSAL and item.safety == Safety.SHOULD_REFUSE and data.get("refusal_style"):
        changes["refusal_style"] = data["refusal_style"]
    return changes


class RankingForm(forms.Form):
    """A ranked item's places as the workspace posts them: `rank_<shown position>` is the response's place, 1 the
    best; responses with the same place are tied."""

    def __init__(self, data, *, count: int):
        super().__init__(data)
        places = [(str(place), str(place)) for place in range(1, count + 1)]
        for position in range(count):
            self.fields[f"rank_{position}"] = forms.TypedChoiceField(
                choices=places, coerce=int, required=False, empty_value=None
            )


def ranking_from_form(data, order: list[int]) -> list[list[int]]:
    """The ranking (tiers of response ids, best first) from the posted places. A response without a valid place
    is left out, so that validation refuses the ranking and names it."""
    form = RankingForm(data, count=len(order))
    form.is_valid()
    tiers: dict[int, list[int]] = {}
    for position, response in enumerate(order):
        if (place := form.cleaned_data.get(f"rank_{position}")) is not None:
            tiers.setdefault(place, []).append(response)
    return [sorted(tiers[place]) for place in sorted(tiers)]


def ranked_responses(item: Item, assignment: Assignment, values: dict) -> list[dict]:
    """A ranked item's responses in the order shown, each with its letter and the place the form holds for it."""
    return [
        {
            "position": position,
            "letter": LETTERS[position],
            "text": item.responses[response]["text"],
            "place": str(values.get(f"rank_{position}", "")),
        }
        for position, response in enumerate(assignment.response_order)
    ]


def form_values(item: Item, assignment: Assignment, payload: dict) -> dict:
    """Form values that show a submitted payload again (for editing it)."""
    values = {name: payload.get(name, "") for name in FORM_FIELDS}
    values["disagree"] = "on" if payload.get("disagree") else ""
    values["all_unacceptable"] = "on" if payload.get("all_unacceptable") else ""
    if item.kind in PAIRWISE_KINDS:
        order = assignment.response_order
        values["choice"] = _id_to_side(payload.get("choice"), order)
        for name, value in payload.get("criteria", {}).items():
            values[f"criterion_{name}"] = _id_to_side(value, order)
        for place, tier in enumerate(payload.get("ranking", []), start=1):
            for response in tier:
                values[f"rank_{order.index(response)}"] = str(place)
    turns = payload.get("continuation", [])
    values["turns"] = [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns) - 1, 2)]
    return values


def draft_values(data) -> dict:
    """What autosave keeps: the raw form fields, including follow-up turns and the submit's client_id."""
    values = {name: data.get(name, "") for name in [*FORM_FIELDS, "client_id", "time_spent_ms"]}
    values["turns"] = [
        list(pair) for pair in zip(data.getlist("turn_user"), data.getlist("turn_assistant"), strict=False)
    ]
    return values


def shown_values(payload) -> dict:
    """Form values for a stored draft, whatever JSON it holds (the API saves any object): junk shows as empty."""
    payload = payload if isinstance(payload, dict) else {}
    values = {name: payload[name] for name in FORM_FIELDS if isinstance(payload.get(name), str)}
    turns = payload.get("turns")
    if isinstance(turns, list):
        values["turns"] = [
            [str(pair[0]), str(pair[1])] for pair in turns if isinstance(pair, list | tuple) and len(pair) == 2
        ]
    if isinstance(payload.get("client_id"), str) and _is_uuid(payload["client_id"]):
        values["client_id"] = payload["client_id"]
    time_spent = payload.get("time_spent_ms")
    if isinstance(time_spent, int | str) and str(time_spent).isdecimal() and int(time_spent) <= MAX_TIME_SPENT_MS:
        values["time_spent_ms"] = int(time_spent)
    return values


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def invalid(form: forms.Form) -> InvalidInput:
    """The form's errors as the domain error that views already show: the first error as the message, naming the
    field by its label where the form gives one."""
    errors = [
        {"field": name, "message": str(message)} for name, messages in form.errors.items() for message in messages
    ]
    first = errors[0]
    named = getattr(form.fields.get(first["field"]), "label", None) or first["field"]
    return InvalidInput(f"{named}: {first['message']}", field=first["field"], errors=errors)


def cleaned(form: forms.Form) -> dict:
    """The form's cleaned data, or InvalidInput naming the first bad field."""
    if not form.is_valid():
        raise invalid(form)
    return form.cleaned_data


class DraftForm(forms.Form):
    """An autosave: the version the page last saw (empty for a first save)."""

    draft_version = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class SubmitForm(forms.Form):
    """What a submit carries besides its payload: the idempotency key (never invented here) and time on task."""

    client_id = forms.UUIDField(
        error_messages={"required": "is missing; reload the page.", "invalid": "is not a UUID."}
    )
    time_spent_ms = forms.IntegerField(required=False, min_value=0, max_value=MAX_TIME_SPENT_MS)


class TaskSubmitForm(SubmitForm, DraftForm):
    """A workspace submit, with the draft version its page last saw (empty: none), to refuse a stale tab's work;
    `check_draft` is False for a post without the field (a script, not the page)."""

    def clean(self):
        data = super().clean()
        data["check_draft"] = "draft_version" in self.data
        return data


def _author_text() -> forms.CharField:
    return forms.CharField(required=False, strip=False)


class AuthorTextForm(forms.Form):
    """The texts an authoring form posts (the authoring services judge their content and length)."""

    instruction = _author_text()
    context = _author_text()
    task_type = _author_text()
    domain = _author_text()
    response = _author_text()
    harmful_prompt = _author_text()
    harm_category = _author_text()
    refusal = _author_text()
    refusal_style = _author_text()
    twin_prompt = _author_text()
    twin_answer = _author_text()


class AuthorDraftForm(DraftForm, AuthorTextForm):
    """An authoring autosave; the submit's client_id and time on task are kept as typed, to come back with it."""

    passage = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    client_id = forms.CharField(required=False, max_length=64)
    time_spent_ms = forms.CharField(required=False, max_length=32)


class AuthorForm(SubmitForm, AuthorTextForm):
    passage = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class PairChoiceForm(forms.Form):
    """A choice among a pairwise item's responses, by index, or a tie."""

    choice = forms.ChoiceField(required=False)

    def __init__(self, *args, item: Item, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item
        self.fields["choice"].choices = [(str(i), f"Response {i}") for i in range(len(item.responses))] + [(TIE, "Tie")]

    def clean_choice(self):
        choice = self.cleaned_data["choice"]
        if not choice:
            return None
        return TIE if choice == TIE else int(choice)


class AdjudicationForm(PairChoiceForm):
    """The final label of a pairwise item: a choice, or for a ranked item the ranking its places give."""

    action = forms.ChoiceField(
        choices=[("adjudicate", "Save final label"), ("gold", "Promote to gold")], required=False
    )
    strength = forms.CharField(required=False)
    rationale = forms.CharField(required=False)

    def clean(self):
        data = super().clean()
        if is_ranked(self.item):
            data["choice"] = ranking_from_form(self.data, list(range(len(self.item.responses))))
        return data


def adjudication_places(item: Item, choice) -> list[dict]:
    """A ranked item's responses for the ranking partial, by id, each with its place in `choice` (a ranking)."""
    places = {}
    if isinstance(choice, list):
        places = {response: str(place) for place, tier in enumerate(choice, start=1) for response in tier}
    return [
        {"position": i, "letter": str(i), "text": response["text"], "place": places.get(i, "")}
        for i, response in enumerate(item.responses)
    ]


class GoldForm(PairChoiceForm):
    """An item's gold answer: a choice for pairwise items, a response for the others; `clear` removes it."""

    action = forms.ChoiceField(choices=[("set", "Save gold answer"), ("clear", "Remove gold mark")], required=False)
    response = forms.CharField(required=False, strip=False)


def refused(exc: InvalidInput, status: int = 422) -> HttpResponse:
    """A refused input's message as a fragment; htmx swaps a 422 into the element that asked."""
    return HttpResponse(format_html('<p class="error" role="alert">{}</p>', exc.message), status=status)


class QueueForm(forms.Form):
    """The annotate page's `queue` parameter: "" (all work), "kind:<kind>" or "type:<task type>", one the project
    offers; without the project's queue choice any value means all work."""

    queue = forms.ChoiceField(
        required=False,
        error_messages={"invalid_choice": "This project has no such queue; choose one from the list, or All work."},
    )

    def __init__(self, data, *, project):
        super().__init__(data)
        self.project = project
        self.queues = {queue.value: queue for _, group in queue_choices(project) for queue in group}
        self.fields["queue"].choices = [(value, queue.label) for value, queue in self.queues.items()]

    def chosen(self) -> Queue:
        """The chosen queue; InvalidInput for one the project does not offer."""
        if not self.project.queue_choice:
            return EVERYTHING
        if not self.is_valid():
            raise InvalidInput(self.errors["queue"][0], field="queue")
        return self.queues[self.cleaned_data["queue"]]


class SkipForm(forms.Form):
    """Why the annotator skips: one of the listed reasons, or "other" with their own words."""

    reason = forms.CharField(max_length=MAX_SKIP_REASON, error_messages={"required": "say why you skip this item."})
    other_reason = forms.CharField(required=False, max_length=MAX_SKIP_REASON)

    def clean(self):
        data = super().clean()
        if data.get("reason") == "other":
            if not data.get("other_reason"):
                self.add_error("other_reason", "say why you skip this item.")
            data["reason"] = data.get("other_reason", "")
        return data


PREVIEW_FIELDS = ("text", "response", "better_response")


class PreviewForm(forms.Form):
    """A markdown text to preview; `field` names which of the posted fields holds it."""

    field = forms.ChoiceField(choices=[(name, name) for name in PREVIEW_FIELDS], required=False)
    text = forms.CharField(required=False, strip=False, max_length=MAX_TEXT_CHARS)
    response = forms.CharField(required=False, strip=False, max_length=MAX_TEXT_CHARS)
    better_response = forms.CharField(required=False, strip=False, max_length=MAX_TEXT_CHARS)

    def markdown(self) -> str:
        return self.cleaned_data[self.cleaned_data["field"] or "text"]


class HintsForm(forms.Form):
    """The response typed so far, for the guidance hints."""

    response = forms.CharField(required=False, strip=False, max_length=MAX_TEXT_CHARS)


class ParaphraseForm(forms.Form):
    text = forms.CharField(max_length=MAX_TEXT_CHARS, error_messages={"required": "write the paraphrase."})


class DocumentForm(forms.Form):
    """A document to split into passages: an uploaded UTF-8 file, else the pasted text."""

    title = forms.CharField(required=False, max_length=200)
    domain = forms.CharField(required=False, max_length=MAX_SHORT_CHARS)
    text = forms.CharField(required=False, strip=False, max_length=MAX_DOCUMENT_CHARS)
    file = forms.FileField(required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is None:
            return data
        if upload.size > 4 * MAX_DOCUMENT_CHARS:
            self.add_error("file", f"is over {4 * MAX_DOCUMENT_CHARS} bytes; split the document.")
            return data
        try:
            data["text"] = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            self.add_error("file", "is not UTF-8 text.")
        data["title"] = data.get("title") or upload.name
        return data


class TableForm(forms.Form):
    """Which of a dashboard's tables to show, and whether as a CSV download."""

    format = forms.ChoiceField(choices=[("", "page"), ("csv", "CSV")], required=False)
    table = forms.ChoiceField(required=False)

    def __init__(self, data, *, tables: tuple[str, ...] = ()):
        super().__init__(data)
        self.fields["table"].choices = [("", "default"), *((name, name) for name in tables)]
