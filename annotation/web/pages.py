"""Pages around the workspace: my projects, my work and editing it, paraphrases, documents."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotation.authoring import paraphrase_add
from annotation.documents import document_import, documents_search
from annotation.editing import annotation_edit, own_annotation
from annotation.errors import Conflict, InvalidInput
from annotation.models import Annotation, Item
from annotation.revisions import own_work
from annotation.selectors import membership_for, my_progress
from annotation.taxonomy import Role
from annotation.web.auth import session_required
from annotation.web.forms import (
    DocumentForm,
    ParaphraseForm,
    cleaned,
    draft_values,
    form_values,
    invalid,
    payload_from_form,
)
from annotation.web.import_forms import DocumentSearchForm
from annotation.web.work_forms import REVIEW_FILTERS, MyWorkFilterForm
from annotation.web.workspace import field_errors, task_context


@session_required
def home(request):
    return render(request, "home.html", {"rows": my_progress(request.user)})


@session_required
def my_work(request, slug):
    membership = membership_for(request.user, slug)
    shown = MyWorkFilterForm(request.GET)
    if not shown.is_valid():
        context = {"project": membership.project, "page": None, "error": invalid(shown).errors[0]["message"]}
        return render(request, "annotation/work.html", context, status=400)
    review = shown.cleaned_data["review"] or "all"
    page = Paginator(own_work(membership, review=review), 50).get_page(request.GET.get("page"))
    context = {"project": membership.project, "page": page, "review": review, "filters": REVIEW_FILTERS}
    return render(request, "annotation/work.html", context)


@session_required
@require_http_methods(["GET", "POST"])
def work_edit(request, slug, pk):
    membership = membership_for(request.user, slug)
    annotation = own_annotation(annotation_id=pk, user=request.user, project=membership.project)
    assignment, item = annotation.assignment, annotation.item
    values, errors, notice, status = form_values(item, assignment, annotation.payload), {}, None, 200
    resubmitting = annotation.review_status == Annotation.ReviewStatus.REJECTED
    if request.method == "POST":
        payload = payload_from_form(item, assignment, request.POST)
        try:
            annotation_edit(annotation_id=pk, user=request.user, project=membership.project, payload=payload)
            messages.success(request, "Resubmitted for review." if resubmitting else "Changes saved.")
            return redirect("my-work", slug=slug)
        except InvalidInput as exc:
            values, errors, status = draft_values(request.POST), field_errors(exc), 422
            notice = None if errors else exc.message
        except Conflict as exc:
            notice, status = exc.message, 409
    assignment.item = item
    context = task_context(membership, assignment, values=values, errors=errors, notice=notice)
    context |= {
        "annotation": annotation,
        "editing": True,
        "resubmitting": resubmitting,
        "rejection": annotation.latest_review if resubmitting else None,
    }
    return render(request, "annotation/work_edit.html", context, status=status)


@session_required
@require_http_methods(["GET", "POST"])
def paraphrases(request, slug, item_id):
    membership = membership_for(request.user, slug)
    item = get_object_or_404(Item, id=item_id, project=membership.project)
    error, text = None, ""
    if request.method == "POST":
        form = ParaphraseForm(request.POST)
        try:
            paraphrase_add(item=item, user=request.user, text=cleaned(form)["text"])
        except InvalidInput as exc:
            error, text = exc.message, form.data.get("text", "")
    context = {
        "project": membership.project,
        "item": item,
        "paraphrases": item.paraphrases.order_by("id"),
        "error": error,
        "text": text,
    }
    return render(request, "annotation/_paraphrases.html", context, status=422 if error else 200)


@session_required
@require_http_methods(["GET", "POST"])
def documents(request, slug):
    membership = membership_for(request.user, slug, Role.ADMIN)
    project = membership.project
    errors, notice = {}, None
    if request.method == "POST":
        form = DocumentForm(request.POST, request.FILES)
        if not form.is_valid():
            errors = {name: f"{name}: {messages[0]}" for name, messages in form.errors.items()}
        else:
            try:
                data = form.cleaned_data
                document = document_import(
                    project=project, user=request.user, title=data["title"], domain=data["domain"], text=data["text"]
                )
                notice = f"Imported '{document.title}' as {document.passages.count()} passages."
            except (InvalidInput, Conflict) as exc:
                errors[exc.field or "text"] = exc.message
    search = DocumentSearchForm(request.GET)
    q = search.cleaned_data["q"] if search.is_valid() else ""
    listed = documents_search(project, q)
    context = {
        "project": project,
        "documents": listed,
        "q": q,
        "errors": errors,
        "notice": notice,
        "values": request.POST,
    }
    return render(request, "annotation/documents.html", context, status=422 if errors else 200)
