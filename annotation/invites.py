"""One-time sign-up links into a project: only the SHA-256 of the token is stored, the link is shown once."""

import hashlib
import logging
import secrets
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from annotation.accounts import user_create
from annotation.audit import Action, audit_record
from annotation.errors import Conflict, Gone, InvalidInput
from annotation.models import Invite, Membership, Project
from annotation.selectors import membership_for
from annotation.taxonomy import Role

logger = logging.getLogger(__name__)
MAX_DAYS = 30


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_path(token: str) -> str:
    return f"/invite/{token}/"


def invite_create(
    *, project: Project, by, role: str, email: str = "", days: int = 7, base_url: str = ""
) -> tuple[Invite, str]:
    """Make an invite and return it with its token (never stored); mail the link to `email` when one is given."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.", field="role")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"An invite lasts 1 to {MAX_DAYS} days.", field="days")
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(f"{email!r} is not an email address.", field="email") from None
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invite = Invite.objects.create(
            project=project,
            role=role,
            email=email,
            token_hash=token_hash(token),
            created_by=by,
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(
            actor=by,
            project=project,
            action=Action.INVITE_CREATE,
            target=f"invite {invite.id}",
            after={"role": role, "email": email, "expires_at": invite.expires_at.isoformat()},
        )
    invite.mailed = bool(email) and _mail(invite, base_url.rstrip("/") + invite_path(token), by)
    return invite, token


def _mail(invite: Invite, link: str, by) -> bool:
    """Send the link; False when the mail server refused (the admin still has the link to pass on)."""
    try:
        send_mail(
            subject=f"You are invited to {invite.project.name} on Quorum",
            message=f"{by.username} invites you to join {invite.project.name} as {invite.role}.\n\n"
            f"Sign up here (the link works once, until {invite.expires_at:%Y-%m-%d %H:%M} UTC):\n{link}\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[invite.email],
        )
    except (OSError, smtplib.SMTPException):
        logger.exception("Could not mail invite %s", invite.id)
        return False
    return True


def pending_invites(project: Project):
    """The project's invites that can still be used, newest first."""
    live = project.invites.filter(used_at=None, revoked_at=None, expires_at__gt=timezone.now())
    return live.select_related("created_by").order_by("-id")


def invite_admin(user, invite_id: int) -> Membership:
    """The user's admin membership in the invite's project: 404 when there is no such invite or they are not a
    member, 403 for another role."""
    slug = Invite.objects.filter(id=invite_id).values_list("project__slug", flat=True).first()
    return membership_for(user, slug or "", Role.ADMIN)


def invite_for(token: str) -> Invite:
    """The invite a link names, or Gone saying why it cannot be used (an unknown link is Gone too)."""
    invite = Invite.objects.select_related("project").filter(token_hash=token_hash(token)).first()
    if invite is None:
        raise Gone("This invite link is not valid; ask the project's admin for a new one.")
    if invite.revoked_at is not None:
        raise Gone("This invite was revoked; ask the project's admin for a new one.")
    if invite.used_at is not None:
        raise Gone("This invite link was already used; each link works once. Log in, or ask for a new one.")
    if invite.expires_at <= timezone.now():
        raise Gone("This invite link has expired; ask the project's admin for a new one.")
    return invite


def _claim(invite: Invite, user) -> None:
    """Mark the invite used by `user`; only the first of two racing accepts wins (the row count says which)."""
    now = timezone.now()
    usable = Q(used_at=None, revoked_at=None, expires_at__gt=now)
    if not Invite.objects.filter(usable, id=invite.id).update(used_at=now, used_by=user):
        raise Gone("This invite link was just used or revoked; each link works once.")


def _join(invite: Invite, user) -> Membership:
    joined = {"role": invite.role, "guidelines_seen": invite.project.guidelines_version}
    membership, _ = Membership.objects.get_or_create(project=invite.project, user=user, defaults=joined)
    audit_record(
        actor=user,
        project=invite.project,
        action=Action.INVITE_ACCEPT,
        target=f"invite {invite.id}",
        after={"username": user.username, "role": membership.role},
    )
    return membership


def invite_accept(*, token: str, username: str, password: str, password2: str | None = None, email: str = ""):
    """Create the user and their membership from an invite, once; returns the new user. Every problem with the
    username, email or password (Django's validators) is reported at once, by field."""
    invite = invite_for(token)
    with transaction.atomic():
        user = user_create(username=username, password=password, password2=password2, email=email)
        _claim(invite, user)
        _join(invite, user)
    return user


@transaction.atomic
def invite_accept_existing(*, token: str, user) -> Membership:
    """Join the invite's project as the logged-in `user`, once; an existing member keeps their role."""
    invite = invite_for(token)
    _claim(invite, user)
    return _join(invite, user)


@transaction.atomic
def invite_revoke(*, project: Project, by, invite_id: int) -> Invite:
    """Revoke a pending invite of the project; a used one cannot be revoked."""
    invite = Invite.objects.select_for_update().filter(project=project, id=invite_id).first()
    if invite is None:
        raise Http404(f"No invite {invite_id} in this project.")
    if invite.used_at is not None:
        raise Conflict("This invite was already used; remove the member instead.")
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit_record(
            actor=by,
            project=project,
            action=Action.INVITE_REVOKE,
            target=f"invite {invite.id}",
            before={"role": invite.role},
        )
    return invite
