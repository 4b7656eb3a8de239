"""The audit log: who changed settings, roles, guidelines, reviews, gold, exclusions and promotions, and how."""

from django.db import models
from django.db.models import QuerySet

from annotation.models import AuditEvent, Project

AUDITED_IDS = 100  # an audit event of a bulk change names this many items at most, and counts them all


class Action(models.TextChoices):
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    PROJECT_ARCHIVE = "project.archive"
    PROJECT_UNARCHIVE = "project.unarchive"
    PROJECT_DELETE = "project.delete"
    GUIDELINES_UPDATE = "guidelines.update"
    MEMBER_ADD = "member.add"
    MEMBER_ROLE = "member.role"
    MEMBER_REMOVE = "member.remove"
    INVITE_CREATE = "invite.create"
    INVITE_REVOKE = "invite.revoke"
    INVITE_ACCEPT = "invite.accept"
    REVIEW = "review"
    REVIEW_UNDO = "review.undo"
    ANNOTATION_RESUBMIT = "annotation.resubmit"
    ADJUDICATE = "adjudicate"
    GOLD_SET = "gold.set"
    GOLD_CLEAR = "gold.clear"
    ITEM_EXCLUDE = "item.exclude"
    ITEM_INCLUDE = "item.include"
    ITEM_REQUEUE = "item.requeue"
    ITEM_TAG = "item.tag"
    ITEMS_IMPORT = "items.import"
    DOCUMENT_DELETE = "document.delete"
    COMMENT_RESOLVE = "comment.resolve"
    MODEL_PROMOTE = "model.promote"
    MODEL_REJECT = "model.reject"


def audit_record(*, actor, project: Project | None, action: Action, target: str = "", before=None, after=None) -> None:
    """Write one audit event; call it inside the transaction of the change it records, so both land or neither."""
    AuditEvent.objects.create(
        project=project,
        project_slug=project.slug if project else "",
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=getattr(actor, "username", "") or "",
        action=action,
        target=str(target)[:200],
        before=before,
        after=after,
    )


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """The keys whose values differ, as (before, after) dicts: what an audit event of an edit keeps."""
    changed = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in changed}, {key: after[key] for key in changed}


def audit_events(project: Project, *, action: str = "", actor: str = "", since=None, until=None) -> QuerySet:
    """The project's audit events, newest first, filtered."""
    events = AuditEvent.objects.filter(project=project)
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_name=actor)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events.order_by("-id")
