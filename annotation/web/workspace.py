"""The annotate screen: one task at a time, swapped in place by htmx after each submit or skip."""

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from annotation.assignment import annotation_submit, assignment_next, assignment_skip
from annotation.drafts import draft_save
from annotation.errors import Conflict, Gone, InvalidInput
from annotation.guidance import guidance
from annotation.markdown import render_markdown
from annotation.models import Assignment
from annotation.selectors import membership_for, own_assignment
from annotation.taxonomy import CRITERIA, HARM_CATEGORIES, PAIRWISE_KINDS, REFUSAL_STYLES, STRENGTHS
from annotation.web.forms import draft_values, payload_from_form

PREVIEW_FIELDS = {"text", "response", "better_response"}
CHOICE_OPTIONS = [("left", "A"), ("right", "B"), ("tie", "Tie")]
SKIP_REASONS = ["Unclear or broken prompt", "Outside my expertise", "Not my language", "Offensive to me"]


def field_errors(exc: InvalidInput) -> dict[str, str]:
    errors = {e["field"].removeprefix("payload."): e["message"] for e in exc.errors}
    if exc.field and exc.field.removeprefix("payload.") not in errors:
        errors[exc.field.removeprefix("payload.")] = exc.message
    return errors


def conversation(item) -> list[dict]:
    return item.messages or [{"role": "user", "content": item.prompt}]


def task_context(
    membership, assignment: Assignment | None, *, values=None, errors=None, notice=None, notice_warn=False
) -> dict:
    """Everything the task partial shows; `values` are form values (a draft, or what was just posted)."""
    context = {"project": membership.project, "assignment": assignment, "notice": notice, "notice_warn": notice_warn}
    if assignment is None:
        return context
    item = assignment.item
    draft = getattr(assignment, "draft", None)
    context["draft_version"] = draft.version if draft else ""
    if values is None:
        values = dict(draft.payload) if draft else {}
    values.setdefault("client_id", str(uuid.uuid4()))
    context |= {
        "item": item,
        "turns": conversation(item),
        "values": values,
        "errors": errors or {},
        "pairwise": item.kind in PAIRWISE_KINDS,
        "refusal_styles": REFUSAL_STYLES,
        "harm_categories": HARM_CATEGORIES,
        "strengths": STRENGTHS,
        "criteria": CRITERIA,
        "skip_reasons": SKIP_REASONS,
        "choice_options": CHOICE_OPTIONS,
        "hints": guidance(project=membership.project, item=item, response=values.get("response", "")),
    }
    if item.kind in PAIRWISE_KINDS:
        order = assignment.response_order
        context["sides"] = [("left", item.responses[order[0]]["text"]), ("right", item.responses[order[1]]["text"])]
    return context


def _render_task(request, membership, assignment, status=200, **extra):
    template = "annotation/annotate.html#task" if request.htmx else "annotation/annotate.html"
    context = task_context(membership, assignment, **extra)
    context["guidelines_html"] = "" if request.htmx else render_markdown(membership.project.guidelines)
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def annotate(request, slug):
    membership = membership_for(request.user, slug)
    return _render_task(request, membership, assignment_next(project=membership.project, user=request.user))


def _next_or_redirect(request, membership, notice):
    if not request.htmx:
        return redirect("annotate", slug=membership.project.slug)
    assignment = assignment_next(project=membership.project, user=request.user)
    return _render_task(request, membership, assignment, notice=notice)


@login_required
@require_POST
def submit(request, slug, pk):
    membership = membership_for(request.user, slug)
    assignment = _assignment_in(membership, pk)
    payload = payload_from_form(assignment.item, assignment, request.POST)
    try:
        client_id = uuid.UUID(request.POST.get("client_id", ""))
        time_spent = int(request.POST.get("time_spent_ms") or 0) or None
    except ValueError:
        client_id, time_spent = uuid.uuid4(), None
    try:
        annotation_submit(
            assignment_id=pk, user=request.user, client_id=client_id, payload=payload, time_spent_ms=time_spent
        )
    except InvalidInput as exc:
        values = draft_values(request.POST)
        return _render_task(request, membership, assignment, status=422, values=values, errors=field_errors(exc))
    except (Gone, Conflict) as exc:
        values = draft_values(request.POST)
        return _render_task(
            request, membership, assignment, status=409, values=values, notice=exc.message, notice_warn=True
        )
    return _next_or_redirect(request, membership, notice="Submitted.")


@login_required
@require_POST
def skip(request, slug, pk):
    membership = membership_for(request.user, slug)
    _assignment_in(membership, pk)
    reason = request.POST.get("reason", "")
    if reason == "other":
        reason = request.POST.get("other_reason", "")
    try:
        assignment_skip(assignment_id=pk, user=request.user, reason=reason)
    except (InvalidInput, Conflict) as exc:
        assignment = _assignment_in(membership, pk)
        return _render_task(request, membership, assignment, status=422, notice=exc.message, notice_warn=True)
    return _next_or_redirect(request, membership, notice="Skipped.")


@login_required
@require_POST
def draft(request, slug, pk):
    """Autosave: the raw form as a draft; 409 when another tab saved a newer version."""
    membership = membership_for(request.user, slug)
    _assignment_in(membership, pk)
    version = request.POST.get("draft_version") or None
    return draft_saved(
        lambda: draft_save(
            assignment_id=pk,
            user=request.user,
            payload=draft_values(request.POST),
            version=int(version) if version else None,
        )
    )


def draft_saved(save) -> JsonResponse:
    """Run a draft save and answer the autosave script: the new version, or why the save was refused."""
    try:
        saved = save()
    except (Conflict, InvalidInput) as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status)
    return JsonResponse({"version": saved.version, "saved_at": saved.updated_at.isoformat()})


@login_required
@require_POST
def hints(request, slug, pk):
    membership = membership_for(request.user, slug)
    assignment = _assignment_in(membership, pk)
    found = guidance(project=membership.project, item=assignment.item, response=request.POST.get("response", ""))
    return render(request, "annotation/_hints.html", {"hints": found})


@login_required
@require_POST
def preview(request, slug):
    membership_for(request.user, slug)
    field = request.POST.get("field", "text")
    text = request.POST.get(field, "") if field in PREVIEW_FIELDS else ""
    return render(request, "annotation/_preview.html", {"html": render_markdown(text)})


def _assignment_in(membership, pk) -> Assignment:
    assignment = own_assignment(pk, membership.user)
    if assignment.project_id != membership.project_id:
        raise Http404("No such assignment in this project.")
    return assignment
