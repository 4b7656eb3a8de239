"""Personal API tokens: each user names, lists and revokes their own; only the SHA-256 of a key is stored."""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotation.errors import InvalidInput
from annotation.models import ApiToken

KEY_PREFIX = "qrm_"
MAX_NAME = 100
LAST_USE_EVERY = timedelta(minutes=1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Make a named token and return it with its key, which is shown this once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("Name the token, e.g. after the script or machine that uses it.", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"A token name has at most {MAX_NAME} characters.", field="name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, key_hash=key_hash(key), prefix=key[: len(KEY_PREFIX) + 4])
    return token, key


def tokens_for(user) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first."""
    return ApiToken.objects.filter(user=user).order_by("-id")


@transaction.atomic
def token_revoke(*, user, token_id: int) -> None:
    """Delete one of the user's own tokens; another user's token is as unknown as a missing one."""
    deleted, _ = ApiToken.objects.filter(user=user, id=token_id).delete()
    if not deleted:
        raise Http404(f"You have no token {token_id}.")


def token_user(key: str):
    """The active user a key belongs to, or None; records the use at most once a minute per token.

    One statement written as SQL: every API request asks, and the ORM took three times as long to build the
    query as the database to answer it."""
    users = get_user_model()
    since = connection.ops.adapt_datetimefield_value(timezone.now() - LAST_USE_EVERY)
    found = users.objects.raw(
        f"SELECT u.*, t.id AS token_id, (t.last_used_at IS NULL OR t.last_used_at <= %s) AS token_stale"
        f" FROM {users._meta.db_table} u JOIN {ApiToken._meta.db_table} t ON t.user_id = u.id WHERE t.key_hash = %s",
        [since, key_hash(key)],
    )
    user = next(iter(found), None)
    if user is None or not user.is_active:
        return None
    if user.token_stale:
        # Conditional, so that concurrent requests write once between them and most requests not at all.
        now = timezone.now()
        stale = Q(last_used_at=None) | Q(last_used_at__lte=now - LAST_USE_EVERY)
        ApiToken.objects.filter(stale, id=user.token_id).update(last_used_at=now)
    return user
