"""Writing new items in the browser: an instruction with its response, one grounded in a passage, a refusal pair."""

import uuid

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.authoring import demonstration_author, refusal_pair_author
from annotation.documents import passage_next
from annotation.drafts import author_draft_discard, author_draft_save
from annotation.errors import InvalidInput
from annotation.guidance import guidance
from annotation.models import AuthorDraft, Passage
from annotation.selectors import membership_for
from annotation.taxonomy import HARM_CATEGORIES, REFUSAL_STYLES, Kind
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
        "harm_categories": HARM_CATEGORIES,
        "refusal_styles": REFUSAL_STYLES,
        "hints": _hints(project, mode, values),
    }


def _passage(project, user, passage_id) -> Passage | None:
    chosen = Passage.objects.select_related("document").filter(id=passage_id, document__project=project).first()
    return chosen if passage_id and chosen else passage_next(project=project, user=user)


def _time_spent(data) -> int | None:
    value = data.get("time_spent_ms", "")
    return int(value) if value.isdigit() else None


def _create(mode, project, user, data, passage):
    try:
        client_id = uuid.UUID(data.get("client_id", ""))
    except ValueError:
        client_id = uuid.uuid4()
    common = {"project": project, "user": user, "client_id": client_id, "time_spent_ms": _time_spent(data)}
    if mode == "refusal":
        return refusal_pair_author(**common, **{name: data.get(name, "") for name in FIELDS["refusal"]})
    fields = {name: data.get(name, "") for name in ["instruction", "context", "response", "task_type", "domain"]}
    return demonstration_author(**common, **fields, passage=passage)


@login_required
@require_http_methods(["GET", "POST"])
def author(request, slug, mode="instruction"):
    membership = membership_for(request.user, slug)
    project, user = membership.project, request.user
    mode = mode if mode in MODES else "instruction"
    if request.method == "GET":
        draft = AuthorDraft.objects.filter(project=project, user=user, mode=mode).first()
        values = draft.payload if draft else {}
        passage = _passage(project, user, values.get("passage")) if mode == "grounded" else None
        context = _context(
            membership, mode, values=values, passage=passage, draft_version=draft.version if draft else ""
        )
        return render(request, "annotation/author.html", context)
    passage = _passage(project, user, request.POST.get("passage")) if mode == "grounded" else None
    try:
        if mode == "grounded" and passage is None:
            raise InvalidInput("There is no passage to write from; an admin imports documents first.", field="passage")
        authored = _create(mode, project, user, request.POST, passage)
    except InvalidInput as exc:
        draft = AuthorDraft.objects.filter(project=project, user=user, mode=mode).first()
        context = _context(
            membership,
            mode,
            values=request.POST.dict(),
            errors=field_errors(exc),
            passage=passage,
            draft_version=draft.version if draft else "",
        )
        return render(request, "annotation/author.html", context, status=422)
    author_draft_discard(project=project, user=user, mode=mode)
    items = ", ".join(str(a.item_id) for a in authored.annotations)
    notice = f"Saved as item {items}." if authored.created else f"Already saved as item {items}."
    passage = passage_next(project=project, user=user) if mode == "grounded" else None
    return render(request, "annotation/author.html", _context(membership, mode, notice=notice, passage=passage))


@login_required
@require_POST
def author_draft(request, slug, mode):
    membership = membership_for(request.user, slug)
    if mode not in MODES:
        return JsonResponse({"detail": "Unknown authoring mode."}, status=404)
    payload = {name: request.POST.get(name, "") for name in [*FIELDS[mode], "client_id", "time_spent_ms"]}
    version = request.POST.get("draft_version") or None
    return draft_saved(
        lambda: author_draft_save(
            project=membership.project,
            user=request.user,
            mode=mode,
            payload=payload,
            version=int(version) if version else None,
        )
    )


@login_required
@require_POST
def author_hints(request, slug, mode):
    membership = membership_for(request.user, slug)
    return render(request, "annotation/_hints.html", {"hints": _hints(membership.project, mode, request.POST)})
