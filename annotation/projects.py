"""Creating projects and managing who belongs to them."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from annotation.errors import Conflict, InvalidInput
from annotation.models import Membership, Project
from annotation.taxonomy import Role


def project_create(*, creator, **fields) -> Project:
    """Create a project with `creator` as its first admin."""
    try:
        with transaction.atomic():
            project = Project.objects.create(created_by=creator, **fields)
            Membership.objects.create(project=project, user=creator, role=Role.ADMIN)
    except IntegrityError as exc:
        raise Conflict(f"A project with slug {fields.get('slug')!r} already exists.", field="slug") from exc
    return project


def membership_set(*, project: Project, username: str, role: str) -> Membership:
    """Add a user to the project, or change their role."""
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(Role.values)}", field="role")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"no user named {username!r}", field="username")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def membership_remove(*, project: Project, username: str, by) -> None:
    """Take a user off the project; their submitted work stays. An admin cannot remove themself."""
    if username == by.username:
        raise Conflict("You cannot remove yourself; ask another admin.")
    deleted, _ = Membership.objects.filter(project=project, user__username=username).delete()
    if not deleted:
        raise InvalidInput(f"{username!r} is not a member of this project.", field="username")
