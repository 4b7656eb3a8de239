"""An admin's page for one domain document: its passages, the items written from each, and deleting it."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.documents import document_delete, document_with_passages
from annotation.errors import Conflict
from annotation.selectors import membership_for
from annotation.taxonomy import Role
from annotation.web.auth import session_required


def _page(request, project, document_id: int, *, error=None, status=200):
    context = {"project": project, "document": document_with_passages(project, document_id), "error": error}
    return render(request, "annotation/document.html", context, status=status)


@session_required
def document(request, slug, document_id):
    project = membership_for(request.user, slug, Role.ADMIN).project
    return _page(request, project, document_id)


@session_required
@require_POST
def document_remove(request, slug, document_id):
    """Delete the document and its passages; refused, naming them, while items cite it."""
    project = membership_for(request.user, slug, Role.ADMIN).project
    try:
        document_delete(project=project, by=request.user, document_id=document_id)
    except Conflict as exc:
        return _page(request, project, document_id, error=exc.message, status=409)
    messages.success(request, "The document and its passages were deleted.")
    return redirect("documents", slug=slug)
