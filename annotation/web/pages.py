"""Pages around the workspace: my projects, my work and editing it, paraphrases, documents."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotation.authoring import paraphrase_add
from annotation.documents import document_import, documents_search
from annotation.editing import annotation_edit, own_annotation
from annotation.errors import Conflict, InvalidInput
from annotation.models import Item
from annotation.selectors import annotations_for, membership_for, my_progress
from annotation.taxonomy import Role
from annotation.web.auth import session_required
from annotation.web.forms import DocumentForm, ParaphraseForm, cleaned, draft_values, form_values, payload_from_form
from annotation.web.import_forms import DocumentSearchForm
from annotation.web.workspace import field_errors, task_context


@session_required
def home(request):
    return render(request, "home.html", {"rows": my_progress(request.user)})


@session_required
def my_work(request, slug):
    membership = membership_for(request.user, slug)
    mine = (
        annotations_for(membership, annotator=request.user.username)
        .select_related("item")
        .prefetch_related("reviews")
        .order_by("-id")
    )
    page = Paginator(mine, 50).get_page(request.GET.get("page"))
    return render(request, "annotation/work.html", {"project": membership.project, "page": page})


@session_required
@require_http_methods(["GET", "POST"])
def work_edit(request, slug, pk):
    membership = membership_for(request.user, slug)
    annotation = own_annotation(annotation_id=pk, user=request.user, project=membership.project)
    assignment, item = annotation.assignment, annotation.item
    values, errors, notice = form_values(item, assignment, annotation.payload), {}, None
    if request.method == "POST":
        payload = payload_from_form(item, assignment, request.POST)
        try:
            annotation_edit(annotation_id=pk, user=request.user, project=membership.project, payload=payload)
            return redirect("my-work", slug=slug)
        except InvalidInput as exc:
            values, errors = draft_values(request.POST), field_errors(exc)
        except Conflict as exc:
            notice = exc.message
    assignment.item = item
    context = task_context(membership, assignment, values=values, errors=errors, notice=notice)
    context |= {"annotation": annotation, "editing": True}
    return render(request, "annotation/work_edit.html", context)


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
