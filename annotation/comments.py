"""Comments on items ("the passage is truncated"): any member who worked on an item leaves one, admins resolve them."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from annotation.models import Comment, Item, Membership, Project
from annotation.projects import ensure_writable
from annotation.selectors import STAFF_ROLES, membership_for
from annotation.taxonomy import Role
from annotation.text import clean

MAX_COMMENT_CHARS = 2000


def commentable_item(membership: Membership, item_id: int) -> Item:
    """The item, if the member may see it: staff always, an annotator only one they were handed or wrote; else 404."""
    items = Item.objects.filter(project=membership.project, id=item_id)
    if membership.role not in STAFF_ROLES:
        items = items.filter(Q(assignments__annotator=membership.user) | Q(authored_by=membership.user)).distinct()
    item = items.first()
    if item is None:
        raise Http404("No such item.")
    return item


@transaction.atomic
def comment_add(*, membership: Membership, item_id: int, text: str) -> Comment:
    """Leave a comment on an item the member may see."""
    ensure_writable(membership.project)
    text = clean(text or "", "text").strip()
    if not text:
        raise InvalidInput("Write the comment.", field="text")
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"The comment is over {MAX_COMMENT_CHARS} characters.", field="text")
    item = commentable_item(membership, item_id)
    return Comment.objects.create(project=membership.project, item=item, author=membership.user, text=text)


def comment_membership(user, comment_id: int) -> Membership:
    """The user's membership in the project of comment `comment_id`; 404 if there is no such comment they can see."""
    comment = Comment.objects.select_related("project").filter(id=comment_id, project__memberships__user=user).first()
    if comment is None:
        raise Http404("No such comment.")
    return membership_for(user, comment.project.slug)


@transaction.atomic
def comment_resolve(*, membership: Membership, comment_id: int) -> Comment:
    """Mark an open comment resolved (admins only); audited."""
    if membership.role != Role.ADMIN:
        raise PermissionDenied("Only project admins resolve comments.")
    ensure_writable(membership.project)
    comment = Comment.objects.select_for_update().filter(id=comment_id, project=membership.project).first()
    if comment is None:
        raise Http404("No such comment.")
    if comment.resolved_at is not None:
        raise Conflict("This comment is already resolved.")
    comment.resolved_at, comment.resolved_by = timezone.now(), membership.user
    comment.save(update_fields=["resolved_at", "resolved_by"])
    audit_record(
        actor=membership.user,
        project=membership.project,
        action=Action.COMMENT_RESOLVE,
        target=f"comment {comment.id} on item {comment.item_id}",
        before={"resolved": False},
        after={"resolved": True},
    )
    return comment


def comments_open(project: Project) -> QuerySet[Comment]:
    """The project's unresolved comments, oldest first."""
    return (
        Comment.objects.filter(project=project, resolved_at__isnull=True)
        .select_related("author", "item")
        .order_by("id")
    )


def comments_resolved(project: Project) -> QuerySet[Comment]:
    """The project's resolved comments, last resolved first."""
    return (
        Comment.objects.filter(project=project, resolved_at__isnull=False)
        .select_related("author", "resolved_by", "item")
        .order_by("-resolved_at", "-id")
    )


def comments_for(membership: Membership, *, item_id: int | None = None, resolved: bool | None = None) -> QuerySet:
    """Comments the member may read: staff every one in the project, annotators their own."""
    comments = Comment.objects.filter(project=membership.project).select_related("author", "resolved_by")
    if membership.role not in STAFF_ROLES:
        comments = comments.filter(author=membership.user)
    if item_id is not None:
        comments = comments.filter(item_id=item_id)
    if resolved is not None:
        comments = comments.filter(resolved_at__isnull=not resolved)
    return comments.order_by("id")
