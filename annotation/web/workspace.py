"""The annotate screen: one task at a time, swapped in place by htmx after each submit or skip."""

import contextlib
import re
import uuid
from functools import wraps

from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from annotation.assignment import annotation_submit, assignment_next, assignment_skip
from annotation.drafts import draft_current, draft_keep, draft_save
from annotation.errors import Conflict, Gone, InvalidInput
from annotation.guidance import guidance
from annotation.guidelines import guidelines_notice
from annotation.markdown import render_markdown
from annotation.models import Assignment
from annotation.payloads import is_ranked
from annotation.queues import EVERYTHING, KIND_QUEUE_LABELS, Queue, queue_choices
from annotation.selectors import (
    NoLongerMember,
    assignment_missing,
    membership_for,
    own_assignment,
    workspace_progress,
)
from annotation.taxonomy import CRITERIA, PAIRWISE_KINDS, REFUSAL_STYLES, STRENGTHS
from annotation.web.auth import session_required, wants_json
from annotation.web.forms import (
    DraftForm,
    HintsForm,
    PreviewForm,
    QueueForm,
    SkipForm,
    TaskSubmitForm,
    cleaned,
    draft_values,
    invalid,
    payload_from_form,
    ranked_responses,
    refused,
    shown_values,
)

CHOICE_OPTIONS = [("left", "A"), ("right", "B"), ("tie", "Tie")]
SKIP_REASONS = ["Unclear or broken prompt", "Outside my expertise", "Not my language", "Offensive to me"]
ALREADY_SUBMITTED = (
    "This task was already submitted from another tab or device, so the text on this page was not saved. "
    "Copy it now if you need it."
)
FOLLOW_UP_TURN = re.compile(r"continuation\[(\d+)\]")


def field_errors(exc: InvalidInput) -> dict[str, str]:
    """Errors by form field; a follow-up turn's error is shown under the turns, naming the turn."""
    errors = {e["field"].removeprefix("payload."): e["message"] for e in exc.errors}
    if exc.field and exc.field.removeprefix("payload.") not in errors:
        errors[exc.field.removeprefix("payload.")] = exc.message
    for field, message in list(errors.items()):
        if turn := FOLLOW_UP_TURN.match(field):
            index = int(turn.group(1))
            part = "the user turn" if index % 2 == 0 else "the assistant reply"
            errors.setdefault("continuation", f"Follow-up {index // 2 + 1}, {part}: {message}")
    return errors


ERROR_FIELDS = {
    "response": ("Response", "response"),
    "refusal_style": ("Refusal style", "refusal_style"),
    "harm_category": ("Harm category", "harm_category"),
    "disagree_reason": ("Why you disagree", "disagree_reason"),
    "continuation": ("Follow-up turns", "turns"),
    "choice": ("Which response is better", "choice"),
    "strength": ("How much better", "strength"),
    "criteria": ("Per criterion", "criteria"),
    "ranking": ("Ranking", "ranking-title"),
    "rationale": ("Rationale", "rationale"),
    "better_response": ("Better response", "better_response"),
}


def error_links(errors: dict) -> list[dict]:
    """The error summary's entries: each refused field's label and the element it links to."""
    links = []
    for key in errors:
        if FOLLOW_UP_TURN.match(key):
            continue  # shown as "continuation", under the turns
        label, anchor = ERROR_FIELDS.get(key, (key.replace("_", " ").capitalize(), key))
        links.append({"key": key, "label": label, "anchor": anchor})
    return links


def conversation(item) -> list[dict]:
    return item.messages or [{"role": "user", "content": item.prompt}]


def task_context(
    membership,
    assignment: Assignment | None,
    *,
    values=None,
    errors=None,
    notice=None,
    notice_warn=False,
    draft_version=None,
) -> dict:
    """Everything the task partial shows; `values` are form values (a draft, or what was just posted), and
    `draft_version` the version the page goes on from ("" for none; by default the stored draft's)."""
    context = {"project": membership.project, "assignment": assignment, "notice": notice, "notice_warn": notice_warn}
    if assignment is None:
        return context
    item = assignment.item
    draft = getattr(assignment, "draft", None)
    context["draft_version"] = draft_version if draft_version is not None else (draft.version if draft else "")
    if values is None:
        values = shown_values(draft.payload) if draft else {}
    values.setdefault("client_id", str(uuid.uuid4()))
    context |= {
        "item": item,
        "turns": conversation(item),
        "values": values,
        "errors": errors or {},
        "error_links": error_links(errors or {}),
        "pairwise": item.kind in PAIRWISE_KINDS,
        "refusal_styles": REFUSAL_STYLES,
        "harm_categories": membership.project.harm_categories,
        "strengths": STRENGTHS,
        "criteria": CRITERIA,
        "skip_reasons": SKIP_REASONS,
        "choice_options": CHOICE_OPTIONS,
        "hints": guidance(project=membership.project, item=item, response=values.get("response", "")),
    }
    if is_ranked(item):
        context["ranked"] = ranked_responses(item, assignment, values)
        context["places"] = [str(place) for place in range(1, len(item.responses) + 1)]
    elif item.kind in PAIRWISE_KINDS:
        order = assignment.response_order
        context["sides"] = [("left", item.responses[order[0]]["text"]), ("right", item.responses[order[1]]["text"])]
    return context


def previous_url(project, latest: dict | None) -> str | None:
    """Where "Previous" goes: my latest annotation's edit page while it awaits review (as from My work), else its
    read-only history."""
    if latest is None:
        return None
    return reverse("work-edit" if latest["pending"] else "review-history", args=[project.slug, latest["id"]])


def header_context(membership, queue: Queue) -> dict:
    """The task header: progress, the queue picker (when the project offers one) and the Previous link."""
    project = membership.project
    progress = workspace_progress(membership, queue)
    return {
        "progress": progress,
        "previous_url": previous_url(project, progress["latest"]),
        "queue": queue,
        "queue_query": queue_query(queue),
        "queue_groups": queue_choices(project) if project.queue_choice else [],
    }


def _render_task(request, membership, assignment, status=200, guidelines_notice=None, queue=EVERYTHING, **extra):
    partial = request.htmx and not request.htmx.history_restore_request
    template = "annotation/annotate.html#task" if partial else "annotation/annotate.html"
    context = task_context(membership, assignment, **extra) | header_context(membership, queue)
    context["guidelines_notice"] = guidelines_notice
    context["guidelines_html"] = "" if partial else render_markdown(membership.project.guidelines)
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _outside(queue: Queue, assignment: Assignment) -> str | None:
    if queue.holds(assignment.item):
        return None
    kind = KIND_QUEUE_LABELS.get(assignment.item.kind, assignment.item.kind).lower()
    return f"Your unfinished task comes first: it is from {kind}, outside {queue.label}; then work comes from there."


def _next(request, membership, notice=None, queue=EVERYTHING):
    try:
        assignment = assignment_next(
            project=membership.project, user=request.user, kind=queue.kind, task_type=queue.task_type
        )
    except (Conflict, InvalidInput) as exc:
        return _render_task(
            request, membership, None, status=exc.status, notice=exc.message, notice_warn=True, queue=queue
        )
    if assignment is not None and assignment.resumed:
        notice = " ".join(filter(None, [notice, "Your lease on this item had run out; your draft is back."]))
    if assignment is not None:
        notice = " ".join(filter(None, [notice, _outside(queue, assignment)])) or None
    changed = guidelines_notice(membership) if assignment is not None else None
    return _render_task(request, membership, assignment, notice=notice, guidelines_notice=changed, queue=queue)


def _queue(request, membership) -> Queue:
    """The queue the request names (`?queue=`); InvalidInput for one the project does not offer."""
    return QueueForm(request.GET, project=membership.project).chosen()


@session_required
@require_GET
def annotate(request, slug):
    membership = membership_for(request.user, slug)
    try:
        queue = _queue(request, membership)
    except InvalidInput as exc:
        context = {"project": membership.project, "queue_error": exc.message} | header_context(membership, EVERYTHING)
        context["guidelines_html"] = render_markdown(membership.project.guidelines)
        template = "annotation/annotate.html#task" if request.htmx else "annotation/annotate.html"
        return render(request, template, context, status=400)
    return _next(request, membership, queue=queue)


def _next_or_redirect(request, membership, notice, queue: Queue):
    if not request.htmx:
        return redirect(reverse("annotate", args=[membership.project.slug]) + queue_query(queue))
    return _next(request, membership, notice, queue)


def queue_query(queue: Queue) -> str:
    return f"?queue={queue.value}" if queue.value else ""


def _queue_refused(exc: InvalidInput) -> JsonResponse:
    """A submit or skip whose page names a queue the project no longer offers: refused before anything is
    written, so the text stays on the page."""
    return JsonResponse({"detail": f"{exc.message} Your text is kept here."}, status=400)


def _refused(request, membership, assignment, status, *, version, queue, errors=None, notice=None):
    """Show a refused submit again with the posted text, kept as the draft so that a reload shows it too, unless
    another tab or device saved a newer draft since the page's `version`: the page then keeps its version, so that
    its autosave is refused too rather than overwrite the newer text."""
    values = draft_values(request.POST)
    # Unless the draft is newer, the text itself is refused (e.g. a NUL byte) or the assignment is closed; the text
    # stays on screen anyway.
    with contextlib.suppress(Conflict, InvalidInput):
        assignment.draft = draft_keep(assignment_id=assignment.id, user=request.user, payload=values, version=version)
        version = assignment.draft.version
    return _render_task(
        request,
        membership,
        assignment,
        status=status,
        values=values,
        errors=errors,
        notice=notice,
        notice_warn=True,
        draft_version="" if version is None else version,
        queue=queue,
    )


def _membership(request, slug, pk):
    """The requester's membership; NoLongerMember (a 403 that says so) when they left the project that holds
    their assignment `pk`, and 404 as before for anyone else."""
    try:
        return membership_for(request.user, slug)
    except Http404:
        assignment_missing(pk, request.user, project__slug=slug)


KEPT_FIELDS = [("response", "Response"), ("rationale", "Rationale"), ("better_response", "Better response")]


def _posted_texts(data) -> list[tuple[str, str]]:
    texts = [(label, data.get(name, "")) for name, label in KEPT_FIELDS]
    texts += [("Follow-up turn", text) for text in [*data.getlist("turn_user"), *data.getlist("turn_assistant")]]
    return [(label, text) for label, text in texts if text.strip()]


def removed_member_answered(view):
    """A removed member's post gets the 403 message: as JSON for the page's scripts (which keep the text on
    screen), else on a page that shows the posted text back, so none of it is lost."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NoLongerMember as exc:
            if request.htmx or wants_json(request):
                return JsonResponse({"detail": str(exc)}, status=403)
            context = {"message": str(exc), "kept": _posted_texts(request.POST)}
            return render(request, "members/no_longer_member.html", context, status=403)

    return wrapper


@session_required
@require_POST
@removed_member_answered
def submit(request, slug, pk):
    membership = _membership(request, slug, pk)
    assignment = _assignment_in(membership, pk)
    try:
        queue = _queue(request, membership)
    except InvalidInput as exc:
        return _queue_refused(exc)
    payload = payload_from_form(assignment.item, assignment, request.POST)
    form = TaskSubmitForm(request.POST)
    try:
        meta = cleaned(form)
    except InvalidInput as exc:
        version = form.cleaned_data.get("draft_version")
        return _refused(request, membership, assignment, 422, version=version, queue=queue, notice=exc.message)
    version = meta["draft_version"]
    try:
        if meta["check_draft"]:
            draft_current(assignment=assignment, version=version)
        annotation_submit(
            assignment_id=pk,
            user=request.user,
            client_id=meta["client_id"],
            payload=payload,
            time_spent_ms=meta["time_spent_ms"],
        )
    except InvalidInput as exc:
        return _refused(request, membership, assignment, 422, version=version, queue=queue, errors=field_errors(exc))
    except (Gone, Conflict) as exc:
        assignment.refresh_from_db(fields=["status"])
        notice = ALREADY_SUBMITTED if assignment.status == Assignment.Status.SUBMITTED else exc.message
        return _refused(request, membership, assignment, 409, version=version, queue=queue, notice=notice)
    return _next_or_redirect(request, membership, "Submitted.", queue)


@session_required
@require_POST
@removed_member_answered
def skip(request, slug, pk):
    membership = _membership(request, slug, pk)
    _assignment_in(membership, pk)
    try:
        queue = _queue(request, membership)
    except InvalidInput as exc:
        return _queue_refused(exc)
    try:
        reason = cleaned(SkipForm(request.POST))["reason"]
        assignment_skip(assignment_id=pk, user=request.user, reason=reason)
    except (InvalidInput, Conflict) as exc:
        assignment = _assignment_in(membership, pk)
        return _render_task(
            request, membership, assignment, status=422, notice=exc.message, notice_warn=True, queue=queue
        )
    return _next_or_redirect(request, membership, "Skipped.", queue)


@session_required
@require_POST
@removed_member_answered
def draft(request, slug, pk):
    """Autosave: the raw form as a draft; 409 when another tab saved a newer version."""
    membership = _membership(request, slug, pk)
    _assignment_in(membership, pk)
    return draft_saved(
        lambda: draft_save(
            assignment_id=pk,
            user=request.user,
            payload=draft_values(request.POST),
            version=cleaned(DraftForm(request.POST))["draft_version"],
        )
    )


def draft_saved(save) -> JsonResponse:
    """Run a draft save and answer the autosave script: the new version, or why the save was refused."""
    try:
        saved = save()
    except (Conflict, InvalidInput) as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return JsonResponse({"version": saved.version, "saved_at": saved.updated_at.isoformat()})


@session_required
@require_POST
@removed_member_answered
def hints(request, slug, pk):
    membership = _membership(request, slug, pk)
    assignment = _assignment_in(membership, pk)
    form = HintsForm(request.POST)
    if not form.is_valid():
        return refused(invalid(form))
    found = guidance(project=membership.project, item=assignment.item, response=form.cleaned_data["response"])
    return render(request, "annotation/_hints.html", {"hints": found})


@session_required
@require_POST
def preview(request, slug):
    membership_for(request.user, slug)
    form = PreviewForm(request.POST)
    if not form.is_valid():
        return refused(invalid(form))
    return render(request, "annotation/_preview.html", {"html": render_markdown(form.markdown())})


def _assignment_in(membership, pk) -> Assignment:
    assignment = own_assignment(pk, membership.user)
    if assignment.project_id != membership.project_id:
        raise Http404("No such assignment in this project.")
    return assignment
