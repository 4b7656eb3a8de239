"""Reads scoped to what the asking user may see. A non-member gets 404, never a hint."""

from typing import NoReturn

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotation.models import Annotation, Assignment, Item, Membership, Project
from annotation.taxonomy import Role

STAFF_ROLES = (Role.REVIEWER, Role.ADMIN)


def projects_for_user(user) -> QuerySet[Project]:
    """The user's projects, each once, with the user's `role` in it."""
    return Project.objects.filter(memberships__user=user).annotate(role=F("memberships__role")).order_by("name")


def membership_for(user, slug: str, *roles: str) -> Membership:
    """The user's membership in project `slug` (404 if none); 403 if `roles` are given and theirs is not one."""
    membership = Membership.objects.select_related("project").filter(user=user, project__slug=slug).first()
    if membership is None:
        raise Http404("No such project.")
    if roles and membership.role not in roles:
        raise PermissionDenied(f"This needs the {' or '.join(roles)} role in {slug!r}.")
    membership.project.role = membership.role  # pages show role-dependent navigation
    return membership


def project_progress(membership: Membership) -> dict[str, int]:
    """How far the project is, and how much the member has done in it."""
    project = membership.project
    complete = Q(completed_count__gte=project.overlap)
    counts = project.items.aggregate(item_count=Count("id"), items_complete=Count("id", filter=complete))
    counts["my_annotations"] = Annotation.objects.filter(project=project, annotator=membership.user).count()
    return counts


def annotations_for(
    membership: Membership, *, kind=None, annotator=None, item=None, since=None, until=None
) -> QuerySet[Annotation]:
    """Reviewers and admins see every annotation in the project; annotators see their own."""
    annotations = Annotation.objects.filter(project=membership.project).select_related("annotator", "assignment")
    if membership.role not in STAFF_ROLES:
        annotations = annotations.filter(annotator=membership.user)
    if kind:
        annotations = annotations.filter(kind=kind)
    if annotator:
        annotations = annotations.filter(annotator__username=annotator)
    if item:
        annotations = annotations.filter(item_id=item)
    if since:
        annotations = annotations.filter(created_at__gte=since)
    if until:
        annotations = annotations.filter(created_at__lt=until)
    return annotations.order_by("id")


NO_LONGER_MEMBER = (
    "You are no longer a member of this project, so this answer was not saved; your text stays on this page."
)


class NoLongerMember(PermissionDenied):
    """A removed member asks about their own assignment in the project they left: a 403 that says so."""

    def __init__(self):
        super().__init__(NO_LONGER_MEMBER)


def assignment_missing(assignment_id: int, user, **scope) -> NoReturn:
    """Why the user's assignment was not found: NoLongerMember when it is theirs in a project they left, else 404."""
    if Assignment.objects.filter(id=assignment_id, annotator=user, **scope).exists():
        raise NoLongerMember()
    raise Http404("No such assignment.")


def own_assignment(assignment_id: int, user) -> Assignment:
    """The user's own assignment in a project they still belong to; 404 for anyone else's, 403 once they left."""
    assignment = (
        Assignment.objects.select_related("project")
        .filter(id=assignment_id, annotator=user, project__memberships__user=user)
        .first()
    )
    if assignment is None:
        assignment_missing(assignment_id, user)
    return assignment


def my_progress(user) -> list[dict]:
    """Per project the user belongs to: what they did today and in total, and what is left for them."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for project in projects_for_user(user):
        mine = Annotation.objects.filter(project=project, annotator=user)
        seen = Assignment.objects.filter(item=OuterRef("pk"), annotator=user)
        live = Assignment.objects.filter(project=project, annotator=user, status=Assignment.Status.ACTIVE).count()
        left = Item.objects.filter(project=project, in_pool=True).exclude(Exists(seen)).count() + live
        done = mine.aggregate(total=Count("id"), today=Count("id", filter=Q(created_at__gte=today)))
        rows.append({"project": project, "done_today": done["today"], "done_total": done["total"], "left": left})
    return rows
