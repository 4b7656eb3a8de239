"""Reviewer pages: the review queue, an annotation's history, adjudication of disputed pairs, gold."""

from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotation.errors import Conflict, InvalidInput
from annotation.guidance import guidance
from annotation.models import Annotation, RejectReason
from annotation.payloads import is_ranked
from annotation.review import (
    adjudicate,
    disputed_item,
    gold_from_adjudication,
    payload_diff,
    review_decide,
    review_queue,
)
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import REFUSAL_STYLES, STRENGTHS, Role
from annotation.web.auth import session_required
from annotation.web.forms import (
    AdjudicationForm,
    ReviewFilterForm,
    ReviewForm,
    adjudication_places,
    cleaned,
    draft_values,
    form_values,
    invalid,
    refused,
    review_changes,
)
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
        "history": [
            (review, payload_diff(review.payload_before, review.payload_after))
            for review in annotation.reviews.select_related("reviewer").order_by("id")
        ]
        if annotation
        else [],
    }


@session_required
@require_http_methods(["GET", "POST"])
def queue(request, slug):
    """The next annotation to review (flagged first); POST decides the one shown and moves on."""
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    pending = review_queue(membership)
    shown = ReviewFilterForm(request.GET)
    if not shown.is_valid():
        return refused(invalid(shown), status=400)
    if annotator := shown.cleaned_data["annotator"]:
        pending = pending.filter(annotator__username=annotator)
    if request.method == "POST":
        form = ReviewForm(request.POST)
        valid = form.is_valid()
        data = form.cleaned_data
        annotation = None
        if "annotation" in data:
            annotation = get_object_or_404(Annotation, id=data["annotation"], project=membership.project)
        try:
            if not valid:
                raise invalid(form)
            review_decide(
                membership=membership,
                annotation_id=annotation.id,
                decision=data["decision"],
                reason=data["reason"],
                note=data["note"],
                payload=review_changes(annotation.item, request.POST) if data["decision"] == "edit_accept" else None,
            )
            return redirect(request.get_full_path())
        except (InvalidInput, Conflict) as exc:
            values = None
            if annotation:
                values = draft_values(request.POST) | {"note": data.get("note", ""), "reason": data.get("reason", "")}
            context = _review_context(membership, annotation or pending.first(), error=exc.message, values=values)
            context["edit_open"] = data.get("decision") == "edit_accept"
            context["remaining"] = pending.count()
            return render(request, "review/queue.html", context, status=exc.status)
    context = _review_context(membership, pending.first())
    context["remaining"] = pending.count()
    context["annotator_filter"] = annotator
    return render(request, "review/queue.html", context)


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
