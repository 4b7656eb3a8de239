"""Writing new items in the browser: an instruction with its response, one grounded in a passage, a refusal pair."""

import uuid

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.authoring import demonstration_author, refusal_pair_author
from annotation.documents import passage_next
from annotation.drafts import author_draft_discard, author_draft_save
from annotation.errors import Conflict, InvalidInput
from annotation.guidance import guidance
from annotation.models import AuthorDraft, Passage
from annotation.selectors import membership_for
from annotation.taxonomy import REFUSAL_STYLES, Kind
from annotation.web.auth import session_required
from annotation.web.forms import AuthorDraftForm, AuthorForm, AuthorTextForm, cleaned, invalid, refused
from annotation.web.workspace import draft_saved, field_errors

MODES = {"instruction": "Instruction", "grounded": "From a passage", "refusal": "Refusal pair"}
FIELDS = {
    "instruction": ["instruction", "context", "task_type", "domain", "response"],
    "grounded": ["passage", "instruction", "task_type", "response"],
    "refusal": ["harmful_prompt", "harm_category", "refusal", "refusal_style", "twin_prompt", "twin_answer"],
}


def _hints(project, mode: str, values) -> list:
    if mode == "refusal":
        return guidance(
            project=project,
            item=None,
            response=values.get("refusal", ""),
            new_prompt=values.get("harmful_prompt", ""),
            new_kind=Kind.REFUSAL,
        )
    return guidance(
        project=project,
        item=None,
        response=values.get("response", ""),
        new_prompt=values.get("instruction", ""),
        task_type=values.get("task_type", "") if values.get("response") else None,
    )


def _context(membership, mode, *, values=None, errors=None, notice=None, passage=None, draft_version=""):
    project = membership.project
    values = dict(values or {})
    values.setdefault("client_id", str(uuid.uuid4()))
    return {
        "project": project,
        "mode": mode,
        "modes": MODES,
        "values": values,
        "errors": errors or {},
        "notice": notice,
        "passage": passage,
        "draft_version": draft_version,
        "harm_categories": project.harm_categories,
        "refusal_styles": REFUSAL_STYLES,
        "hints": _hints(project, mode, values),
    }


def _passage(project, user, passage_id) -> Passage | None:
    """The passage the form or draft names (a stored draft may hold anything), else the next one to write from."""
    chosen = None
    if isinstance(passage_id, int | str) and str(passage_id).isdecimal() and int(passage_id) < 2**63:
        chosen = Passage.objects.select_related("document").filter(id=passage_id, document__project=project).first()
    return chosen or passage_next(project=project, user=user)


def _create(mode, project, user, data: dict, passage):
    common = {"project": project, "user": user, "client_id": data["client_id"], "time_spent_ms": data["time_spent_ms"]}
    if mode == "refusal":
        return refusal_pair_author(**common, **{name: data[name] for name in FIELDS["refusal"]})
    fields = {name: data[name] for name in ["instruction", "context", "response", "task_type", "domain"]}
    return demonstration_author(**common, **fields, passage=passage)


@session_required
@require_http_methods(["GET", "POST"])
def author(request, slug, mode="instruction"):
    membership = membership_for(request.user, slug)
    project, user = membership.project, request.user
    mode = mode if mode in MODES else "instruction"
    if request.method == "GET":
        draft = AuthorDraft.objects.filter(project=project, user=user, mode=mode).first()
        stored = draft.payload if draft else {}
        values = {name: value for name, value in stored.items() if isinstance(value, str)}
        passage = _passage(project, user, stored.get("passage")) if mode == "grounded" else None
        context = _context(
            membership, mode, values=values, passage=passage, draft_version=draft.version if draft else ""
        )
        return render(request, "annotation/author.html", context)
    form = AuthorForm(request.POST)
    valid = form.is_valid()
    passage = _passage(project, user, form.cleaned_data.get("passage")) if mode == "grounded" else None
    try:
        if not valid:
            raise invalid(form)
        if mode == "grounded" and passage is None:
            raise InvalidInput("There is no passage to write from; an admin imports documents first.", field="passage")
        authored = _create(mode, project, user, form.cleaned_data, passage)
    except (InvalidInput, Conflict) as exc:
        draft = AuthorDraft.objects.filter(project=project, user=user, mode=mode).first()
        context = _context(
            membership,
            mode,
            values=request.POST.dict(),
            errors=field_errors(exc),
            passage=passage,
            draft_version=draft.version if draft else "",
        )
        return render(request, "annotation/author.html", context, status=422 if exc.status == 400 else exc.status)
    author_draft_discard(project=project, user=user, mode=mode)
    items = ", ".join(str(a.item_id) for a in authored.annotations)
    notice = f"Saved as item {items}." if authored.created else f"Already saved as item {items}."
    passage = passage_next(project=project, user=user) if mode == "grounded" else None
    return render(request, "annotation/author.html", _context(membership, mode, notice=notice, passage=passage))


@session_required
@require_POST
def author_draft(request, slug, mode):
    membership = membership_for(request.user, slug)
    if mode not in MODES:
        return JsonResponse({"detail": "Unknown authoring mode."}, status=404)

    def save():
        data = cleaned(AuthorDraftForm(request.POST))
        payload = {name: data[name] for name in [*FIELDS[mode], "client_id", "time_spent_ms"]}
        return author_draft_save(
            project=membership.project, user=request.user, mode=mode, payload=payload, version=data["draft_version"]
        )

    return draft_saved(save)


@session_required
@require_POST
def author_hints(request, slug, mode):
    membership = membership_for(request.user, slug)
    form = AuthorTextForm(request.POST)
    if not form.is_valid():
        return refused(invalid(form))
    return render(request, "annotation/_hints.html", {"hints": _hints(membership.project, mode, form.cleaned_data)})
