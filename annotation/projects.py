"""Creating projects, and keeping archived ones read-only (members: annotation/members.py)."""

import re

from django.db import IntegrityError, transaction

from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from annotation.models import Membership, Project
from annotation.taxonomy import Role

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def ensure_writable(project: Project) -> None:
    """Refuse any change to an archived project's data: archived projects are read-only."""
    if project.archived_at is not None:
        raise Conflict(f"Project {project.name!r} is archived and read-only; an admin can unarchive it.")


def project_create(*, creator, **fields) -> Project:
    """Create a project with `creator` as its first admin."""
    if not SLUG.fullmatch(fields.get("slug") or ""):
        raise InvalidInput("The slug is lower-case letters, digits and '-' (not first).", field="slug")
    try:
        with transaction.atomic():
            project = Project.objects.create(created_by=creator, **fields)
            Membership.objects.create(project=project, user=creator, role=Role.ADMIN)
            audit_record(
                actor=creator,
                project=project,
                action=Action.PROJECT_CREATE,
                target=project.slug,
                after={"name": project.name, "slug": project.slug},
            )
    except IntegrityError as exc:
        raise Conflict(f"A project with slug {fields.get('slug')!r} already exists.", field="slug") from exc
    return project
