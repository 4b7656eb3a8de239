"""Who belongs to a project: adding users, changing their roles, removing them; each change is audited."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from annotation.assignment import leases_release
from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from annotation.models import Annotation, Assignment, Membership, Project
from annotation.taxonomy import Role


def _role(role: str) -> str:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.", field="role")
    return role


def _member(project: Project, username: str) -> Membership:
    # One membership change at a time per project: two admins demoting each other would otherwise lock each
    # other's rows in opposite orders (a deadlock) before either reached the last-admin check.
    Project.objects.select_for_update(no_key=True).filter(id=project.id).first()
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(project=project, user__username=username)
        .first()
    )
    if membership is None:
        raise Http404(f"{username!r} is not a member of this project.")
    return membership


def _keep_an_admin(membership: Membership, what: str) -> None:
    """Refuse to leave the project without an admin (the admins' rows are locked, so two admins who demote each
    other at once cannot both succeed)."""
    if membership.role != Role.ADMIN:
        return
    admins = list(
        Membership.objects.select_for_update().filter(project=membership.project, role=Role.ADMIN).values_list("id")
    )
    if len(admins) <= 1:
        raise Conflict(
            f"{membership.user.username} is the project's last admin and cannot be {what}; make another "
            "member admin first.",
            field="username",
        )


@transaction.atomic
def member_add(*, project: Project, by, username: str, role: str) -> Membership:
    """Add an existing user to the project with `role`; a user who is already a member is a Conflict."""
    role = _role(role)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"No user named {username!r}; invite them instead.", field="username")
    joined = {"role": role, "guidelines_seen": project.guidelines_version}
    membership, created = Membership.objects.get_or_create(project=project, user=user, defaults=joined)
    if not created:
        raise Conflict(
            f"{username} is already a member (as {membership.role}); change their role instead.", field="username"
        )
    audit_record(actor=by, project=project, action=Action.MEMBER_ADD, target=username, after={"role": role})
    return membership


@transaction.atomic
def member_role_set(*, project: Project, by, username: str, role: str) -> Membership:
    """Change a member's role; the last admin cannot be demoted."""
    role = _role(role)
    membership = _member(project, username)
    if membership.role == role:
        return membership
    if role != Role.ADMIN:
        _keep_an_admin(membership, "demoted")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=by,
        project=project,
        action=Action.MEMBER_ROLE,
        target=username,
        before={"role": before},
        after={"role": role},
    )
    return membership


@transaction.atomic
def member_remove(*, project: Project, by, username: str) -> int:
    """Take a member off the project: their finished work stays, their open leases are released at once (returns
    how many). The last admin cannot be removed."""
    membership = _member(project, username)
    _keep_an_admin(membership, "removed")
    released = leases_release(project=project, user=membership.user)
    membership.delete()
    audit_record(
        actor=by,
        project=project,
        action=Action.MEMBER_REMOVE,
        target=username,
        before={"role": membership.role},
        after={"leases_released": released},
    )
    return released


def members_with_work(project: Project) -> QuerySet[Membership]:
    """The project's members by username, each with `submitted` (annotations, which stay when they leave) and
    `leases` (open assignments, released when they leave)."""
    mine = {"project": project, "annotator": OuterRef("user_id")}
    return (
        project.memberships.select_related("user")
        .annotate(
            submitted=_count(Annotation.objects.filter(**mine)),
            leases=_count(Assignment.objects.filter(**mine, status=Assignment.Status.ACTIVE)),
        )
        .order_by("user__username")
    )


def _count(rows: QuerySet) -> Coalesce:
    return Coalesce(Subquery(rows.order_by().values("annotator").annotate(n=Count("id")).values("n")[:1]), 0)
