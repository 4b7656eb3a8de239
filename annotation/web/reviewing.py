"""Reviewer pages: the review queue, an annotation's history, adjudication of disputed pairs, gold."""

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from annotation.errors import Conflict, InvalidInput
from annotation.guidance import guidance
from annotation.models import Annotation, RejectReason, Review
from annotation.payloads import is_ranked
from annotation.review import (
    UNDO_SECONDS,
    adjudicate,
    disputed_item,
    gold_from_adjudication,
    queue_size,
    review_decide,
    review_next,
    review_queue,
    review_undo,
)
from annotation.revisions import annotation_history
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import REFUSAL_STYLES, REVIEW_DECISION_LABELS, STRENGTHS, Role
from annotation.web.auth import session_required
from annotation.web.forms import (
    AdjudicationForm,
    adjudication_places,
    cleaned,
    draft_values,
    form_values,
    invalid,
    refused,
    review_changes,
)
from annotation.web.review_forms import ReviewFilterForm, ReviewForm, UndoForm
from annotation.web.workspace import conversation


def _review_context(membership, annotation, *, error=None, values=None):
    item = annotation.item if annotation else None
    return {
        "values": values or (form_values(item, annotation.assignment, annotation.payload) if annotation else {}),
        "project": membership.project,
        "annotation": annotation,
        "item": item,
        "turns": conversation(item) if item else [],
        "reasons": RejectReason.choices,
        "refusal_styles": REFUSAL_STYLES,
        "error": error,
        "hints": guidance(project=membership.project, item=item, response=annotation.payload.get("response", ""))
        if annotation
        else [],
        "history": annotation_history(annotation) if annotation else [],
    }


def _shown_filters(request, membership) -> ReviewFilterForm:
    shown = ReviewFilterForm(request.GET, membership=membership)
    cleaned(shown)
    return shown


def _decided(membership, review_id):
    """The reviewer's own decision, while it may still be undone (for its message and Undo button)."""
    review = (
        Review.objects.select_related("annotation__annotator")
        .filter(id=review_id, reviewer=membership.user, annotation__project=membership.project)
        .first()
    )
    if review is None or timezone.now() - review.created_at > timedelta(seconds=UNDO_SECONDS):
        return None
    return review


def _render_queue(request, membership, shown, *, after=None, show=None, status=200, **extra):
    """The queue page, or only its panel for htmx: the next annotation of the filtered queue, with `extra` (an error,
    the posted values, the decision just made) on top."""
    pending = review_queue(membership, **shown.queue_filters())
    annotation = extra.pop("annotation", None) or review_next(pending, after=after, show=show)
    context = _review_context(membership, annotation, error=extra.pop("error", None), values=extra.pop("values", None))
    decided = extra.pop("decided", None)
    remaining, more = queue_size(pending)
    context |= {
        "remaining": remaining,
        "more_waiting": more,
        "filters": shown,
        "filtered": shown.description(),
        "query": shown.query(),
        "skip_query": shown.query(after=annotation.id) if annotation else "",
        "decided": decided,
        "decided_label": REVIEW_DECISION_LABELS.get(decided.decision) if decided else "",
        "undo_seconds": UNDO_SECONDS,
        **extra,
    }
    template = "review/queue.html#panel" if request.htmx else "review/queue.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@session_required
@require_http_methods(["GET", "POST"])
def queue(request, slug):
    """The next annotation to review (flagged first), filtered as the query says; POST decides the one shown and
    shows the next, htmx swapping only the panel."""
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    try:
        shown = _shown_filters(request, membership)
    except InvalidInput as exc:
        return refused(exc, status=400)
    data = shown.cleaned_data
    if request.method == "GET":
        return _render_queue(
            request,
            membership,
            shown,
            after=data["after"],
            show=data["show"],
            decided=_decided(membership, data["done"]),
        )
    form = ReviewForm(request.POST)
    valid = form.is_valid()
    posted = form.cleaned_data
    annotation = None
    if "annotation" in posted:
        annotation = get_object_or_404(
            Annotation.objects.select_related("item", "annotator", "assignment"),
            id=posted["annotation"],
            project=membership.project,
        )
    try:
        if not valid:
            raise invalid(form)
        review = review_decide(
            membership=membership,
            annotation_id=annotation.id,
            decision=posted["decision"],
            reason=posted["reason"],
            note=posted["note"],
            payload=review_changes(annotation.item, request.POST) if posted["decision"] == "edit_accept" else None,
        )
    except (InvalidInput, Conflict) as exc:
        values = None
        if annotation and annotation.review_status == Annotation.ReviewStatus.PENDING:
            values = draft_values(request.POST) | {name: request.POST.get(name, "") for name in ("note", "reason")}
        else:
            annotation = None  # decided meanwhile: the next one is shown, with the message
        return _render_queue(
            request,
            membership,
            shown,
            annotation=annotation,
            error=exc.message,
            error_field=exc.field,
            values=values,
            edit_open=posted.get("decision") == "edit_accept",
            status=422 if isinstance(exc, InvalidInput) else exc.status,
        )
    review.annotation.annotator = annotation.annotator
    if not request.htmx:
        return redirect(f"{reverse('review', args=[slug])}?{shown.query(after=annotation.id, done=review.id)}")
    return _render_queue(request, membership, shown, after=annotation.id, decided=review)


@session_required
@require_POST
def undo(request, slug):
    """Take back the reviewer's last decision (within a minute) and show that annotation again."""
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    try:
        shown = _shown_filters(request, membership)
        review_id = cleaned(UndoForm(request.POST))["review"]
        annotation = review_undo(membership=membership, review_id=review_id)
    except InvalidInput as exc:
        return refused(exc, status=400)
    except Conflict as exc:
        return _render_queue(request, membership, shown, error=exc.message, status=exc.status)
    notice = f"Decision undone: annotation #{annotation.id} by {annotation.annotator.username} waits for review again."
    if not request.htmx:
        messages.success(request, notice)
        return redirect(f"{reverse('review', args=[slug])}?{shown.query(show=annotation.id)}")
    return _render_queue(request, membership, shown, show=annotation.id, notice=notice)


@session_required
def history(request, slug, pk):
    """An annotation with every review of it; reviewers see any, the annotator sees their own."""
    membership = membership_for(request.user, slug)
    annotations = Annotation.objects.filter(project=membership.project).select_related("item", "annotator")
    if membership.role not in STAFF_ROLES:
        annotations = annotations.filter(annotator=request.user)
    annotation = get_object_or_404(annotations, id=pk)
    return render(request, "review/history.html", _review_context(membership, annotation))


@session_required
@require_http_methods(["GET", "POST"])
def adjudication(request, slug, item_id):
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    item, judgments = disputed_item(membership=membership, item_id=item_id)
    error, notice, posted = None, None, None
    if request.method == "POST":
        form = AdjudicationForm(request.POST, item=item)
        try:
            data = cleaned(form)
            if data["action"] == "gold":
                if membership.role != Role.ADMIN:
                    raise Conflict("Only project admins set gold items.")
                gold_from_adjudication(membership=membership, item_id=item.id)
                notice = "This item is now gold."
            else:
                adjudicate(
                    membership=membership,
                    item_id=item.id,
                    choice=data["choice"],
                    strength=data["strength"],
                    rationale=data["rationale"],
                )
                notice = "Final label saved."
        except (InvalidInput, Conflict) as exc:
            error = exc.message
            if (exc.field or "").startswith("choice"):
                posted = form.cleaned_data.get("choice")
        item.refresh_from_db()
    adjudication = getattr(item, "adjudication", None)
    context = {
        "project": membership.project,
        "item": item,
        "judgments": judgments,
        "adjudication": adjudication,
        "strengths": STRENGTHS,
        "error": error,
        "notice": notice,
    }
    if is_ranked(item):
        shown = posted if posted is not None else getattr(adjudication, "choice", None)
        context["ranked"] = adjudication_places(item, shown)
        context["places"] = [str(place) for place in range(1, len(item.responses) + 1)]
        context["errors"] = {"ranking": error} if posted is not None else {}
    return render(request, "review/adjudicate.html", context, status=422 if error else 200)
