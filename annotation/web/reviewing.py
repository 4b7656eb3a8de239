"""Reviewer pages: the review queue, an annotation's history, adjudication of disputed pairs, gold."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.errors import Conflict, InvalidInput
from annotation.guidance import guidance
from annotation.models import Annotation, RejectReason
from annotation.projects import membership_remove
from annotation.review import (
    adjudicate,
    disputed_item,
    gold_from_adjudication,
    payload_diff,
    review_decide,
    review_queue,
)
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import REFUSAL_STYLES, STRENGTHS, TIE, Role
from annotation.web.forms import payload_from_form
from annotation.web.workspace import conversation


def _review_context(membership, annotation, *, error=None):
    item = annotation.item if annotation else None
    return {
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
        "history": [
            (review, payload_diff(review.payload_before, review.payload_after))
            for review in annotation.reviews.select_related("reviewer").order_by("id")
        ]
        if annotation
        else [],
    }


@login_required
@require_http_methods(["GET", "POST"])
def queue(request, slug):
    """The next annotation to review (flagged first); POST decides the one shown and moves on."""
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    pending = review_queue(membership)
    if request.GET.get("annotator"):
        pending = pending.filter(annotator__username=request.GET["annotator"])
    error = None
    if request.method == "POST":
        annotation = get_object_or_404(Annotation, id=request.POST.get("annotation"), project=membership.project)
        payload = None
        if request.POST.get("decision") == "edit_accept":
            payload = payload_from_form(annotation.item, annotation.assignment, request.POST)
        try:
            review_decide(
                membership=membership,
                annotation_id=annotation.id,
                decision=request.POST.get("decision", ""),
                reason=request.POST.get("reason", ""),
                note=request.POST.get("note", ""),
                payload=payload,
            )
            return redirect(request.get_full_path())
        except (InvalidInput, Conflict) as exc:
            error = exc.message
            context = _review_context(membership, annotation, error=error)
            context["remaining"] = pending.count()
            return render(request, "review/queue.html", context, status=exc.status)
    context = _review_context(membership, pending.first())
    context["remaining"] = pending.count()
    context["annotator_filter"] = request.GET.get("annotator", "")
    return render(request, "review/queue.html", context)


@login_required
def history(request, slug, pk):
    """An annotation with every review of it; reviewers see any, the annotator sees their own."""
    membership = membership_for(request.user, slug)
    annotations = Annotation.objects.filter(project=membership.project).select_related("item", "annotator")
    if membership.role not in STAFF_ROLES:
        annotations = annotations.filter(annotator=request.user)
    annotation = get_object_or_404(annotations, id=pk)
    return render(request, "review/history.html", _review_context(membership, annotation))


@login_required
@require_http_methods(["GET", "POST"])
def adjudication(request, slug, item_id):
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    item, judgments = disputed_item(membership=membership, item_id=item_id)
    error, notice = None, None
    if request.method == "POST":
        choice = request.POST.get("choice", "")
        try:
            if request.POST.get("action") == "gold":
                if membership.role != Role.ADMIN:
                    raise Conflict("Only project admins set gold items.")
                gold_from_adjudication(membership=membership, item_id=item.id)
                notice = "This item is now gold."
            else:
                adjudicate(
                    membership=membership,
                    item_id=item.id,
                    choice=TIE if choice == TIE else int(choice) if choice.isdigit() else None,
                    strength=request.POST.get("strength", ""),
                    rationale=request.POST.get("rationale", ""),
                )
                notice = "Final label saved."
        except (InvalidInput, Conflict) as exc:
            error = exc.message
        item.refresh_from_db()
    context = {
        "project": membership.project,
        "item": item,
        "judgments": judgments,
        "adjudication": getattr(item, "adjudication", None),
        "strengths": STRENGTHS,
        "error": error,
        "notice": notice,
    }
    return render(request, "review/adjudicate.html", context, status=422 if error else 200)


@login_required
@require_POST
def member_remove(request, slug, username):
    membership = membership_for(request.user, slug, Role.ADMIN)
    try:
        membership_remove(project=membership.project, username=username, by=request.user)
        messages.success(request, f"{username} is no longer a member; their submitted work stays.")
    except (InvalidInput, Conflict) as exc:
        messages.error(request, exc.message)
    return redirect("quality-annotators", slug=slug)
