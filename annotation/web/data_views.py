"""The data browser (reviewers and admins), its bulk actions (admins), and comments on items."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotation import bulk_actions
from annotation.comments import comment_add, comment_resolve, commentable_item, comments_open, comments_resolved
from annotation.data_browser import browse_page, items_browse
from annotation.errors import Conflict, InvalidInput
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.tags import items_tag, project_tags
from annotation.taxonomy import Role
from annotation.web.auth import session_required
from annotation.web.data_forms import (
    BULK_ACTIONS,
    EXPORT_ACTIONS,
    MAX_PAGE,
    PER_PAGE,
    TAG_ACTIONS,
    BrowseForm,
    BulkForm,
    CommentForm,
    CommentTabForm,
    posted_ids,
)
from annotation.web.forms import cleaned, invalid, refused


def _browse_context(membership, form: BrowseForm) -> dict:
    project = membership.project
    context = {"project": project, "form": form, "rows": [], "count": 0, "more": False, "error": None, "pages": 0}
    if not form.is_valid():
        context["error"] = invalid(form).message
        return context
    page = form.cleaned_data["page"]
    rows, count, more = browse_page(membership, form.filters(), page=page, per_page=PER_PAGE)
    pages = max(1, -(-count // PER_PAGE))
    if more and len(rows) == PER_PAGE:
        pages = min(max(pages, page + 1), MAX_PAGE)
    context |= {
        "rows": rows,
        "count": count,
        "more": more,
        "page": page,
        "pages": pages,
        "last_page": min(pages, MAX_PAGE),
        "sort": form.cleaned_data["sort"],
        "columns": _columns(form.cleaned_data["sort"]),
        "is_admin": membership.role == Role.ADMIN,
        "bulk_actions": BULK_ACTIONS,
        "checked": set(),
    }
    return context


def _columns(sort: str) -> list[dict]:
    """The table's headers; a sortable one links to its ascending order, or descending when it is the current."""
    labels = [
        ("id", "Item"),
        ("kind", "Kind"),
        ("task_type", "Task type"),
        ("", "Domain"),
        ("", "Tags"),
        ("", "Prompt"),
    ]
    labels += [("completed", "Done"), ("", "Status"), ("created", "Created")]
    columns = []
    for key, label in labels:
        current = "ascending" if sort == key else "descending" if key and sort == f"-{key}" else ""
        columns.append({"label": label, "sort": key, "current": current, "next": f"-{key}" if sort == key else key})
    return columns


@session_required
@require_GET
def browse(request, slug):
    """Items in a filterable, sortable, paginated table; each row opens its item page."""
    membership = membership_for(request.user, slug, *STAFF_ROLES)
    context = _browse_context(membership, BrowseForm(request.GET, tags=project_tags(membership.project)))
    return render(request, "data/browse.html", context, status=400 if context["error"] else 200)


@session_required
@require_POST
def bulk(request, slug):
    """A bulk action on the checked rows, or on every row matching the query string's filter (admins)."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    query = BrowseForm(request.GET, tags=project_tags(membership.project))
    form = BulkForm(request.POST, item_ids=posted_ids(request.POST))
    try:
        data = cleaned(form)
        if data["scope"] == "all":
            cleaned(query)
            ids = bulk_actions.matching_ids(items_browse(membership, **query.filters(), search_limit=None))
        else:
            ids = bulk_actions.selected_ids(project=membership.project, item_ids=data["item"])
        if data["action"] in EXPORT_ACTIONS:
            return bulk_actions.export_download(membership.project, ids, EXPORT_ACTIONS[data["action"]])
        messages.success(request, _act(membership, data, ids))
    except (InvalidInput, Conflict) as exc:
        context = _browse_context(membership, query)
        context |= {"bulk_error": exc.message, "bulk": request.POST, "checked": set(posted_ids(request.POST))}
        return render(request, "data/browse.html", context, status=409 if isinstance(exc, Conflict) else 422)
    return redirect(f"{reverse('data', args=[slug])}?{request.GET.urlencode()}")


def _act(membership, data: dict, ids: list[int]) -> str:
    project, by = membership.project, membership.user
    action = data["action"]
    if action == "requeue":
        reopened = bulk_actions.items_requeue(project=project, by=by, item_ids=ids, extra=data["extra"])
        return f"{len(ids)} items sent back to the pool; {reopened} now have open slots."
    if action == "exclude":
        changed = bulk_actions.items_exclude(project=project, by=by, item_ids=ids, reason=data["reason"])
        return f"{changed} items excluded from exports."
    if action == "include":
        return f"{bulk_actions.items_include(project=project, by=by, item_ids=ids)} items included in exports again."
    if action in TAG_ACTIONS:
        adding = action == "tag_add"
        tag = [data["tag"]]
        changed = items_tag(
            project=project, by=by, item_ids=ids, add=tag if adding else [], remove=[] if adding else tag
        )
        return f"Tag {data['tag']} {'added to' if adding else 'removed from'} {changed} items."
    if action == "gold_clear":
        return f"{len(bulk_actions.items_gold_clear(membership=membership, item_ids=ids))} items are no longer gold."
    result = bulk_actions.items_gold_set(membership=membership, item_ids=ids)
    refused_items = "; ".join(f"#{item_id}: {why}" for item_id, why in list(result["refused"].items())[:20])
    return f"{len(result['set'])} items marked gold." + (f" Not marked: {refused_items}." if refused_items else "")


@session_required
@require_GET
def comments(request, slug):
    """Open comments (or the resolved ones) of the project, for admins to resolve."""
    membership = membership_for(request.user, slug, Role.ADMIN)
    form = CommentTabForm(request.GET)
    if not form.is_valid():
        return refused(invalid(form), status=400)
    resolved = form.cleaned_data["tab"] == "resolved"
    rows = comments_resolved(membership.project) if resolved else comments_open(membership.project)
    context = {"project": membership.project, "rows": rows[:500], "resolved": resolved}
    return render(request, "data/comments.html", context)


@session_required
@require_POST
def resolve(request, slug, comment_id):
    membership = membership_for(request.user, slug, Role.ADMIN)
    try:
        comment = comment_resolve(membership=membership, comment_id=comment_id)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("comments", slug=slug)
    messages.success(request, f"Comment on item {comment.item_id} resolved.")
    if request.POST.get("back") == "item":
        return redirect("item", slug=slug, item_id=comment.item_id)
    return redirect("comments", slug=slug)


@session_required
@require_POST
def comment(request, slug, item_id):
    """Leave a comment on an item; htmx swaps the answer into the comment form."""
    membership = membership_for(request.user, slug)
    try:
        text = cleaned(CommentForm(request.POST))["text"]
        comment_add(membership=membership, item_id=item_id, text=text)
    except (InvalidInput, Conflict) as exc:
        item = commentable_item(membership, item_id)
        context = {
            "project": membership.project,
            "item_id": item.id,
            "error": exc.message,
            "text": request.POST.get("text"),
        }
        template = "annotation/_comment_form.html" if request.htmx else "data/comment_page.html"
        return render(request, template, context, status=409 if isinstance(exc, Conflict) else 422)
    if request.htmx:
        context = {"project": membership.project, "item_id": item_id, "sent": True}
        return render(request, "annotation/_comment_form.html", context)
    messages.success(request, "Comment sent; an admin will see it.")
    if membership.role in STAFF_ROLES:
        return redirect("item", slug=slug, item_id=item_id)
    return redirect("annotate", slug=slug)
