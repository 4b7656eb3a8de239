"""Personal API tokens: each user names, lists and revokes their own; only the SHA-256 of a key is stored."""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotation.errors import InvalidInput
from annotation.models import ApiToken
from annotation.rows import Columns, first, select

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


_TOKEN_USER = (Columns(ApiToken, "t"), Columns(get_user_model(), "u"))


def token_user(key: str):
    """The active user a key belongs to, or None; records the use at most once a minute per token.

    One statement written as SQL (annotation/rows.py): every API request asks, and the ORM took three times as long
    to build the query as the database to answer it."""
    found = first(
        f"SELECT {select(*_TOKEN_USER)} FROM {ApiToken._meta.db_table} t"
        f" JOIN {_TOKEN_USER[1].model._meta.db_table} u ON u.id = t.user_id WHERE t.key_hash = %s",
        [key_hash(key)],
        *_TOKEN_USER,
    )
    if found is None:
        return None
    token, user = found
    if not user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at <= now - LAST_USE_EVERY:
        # Conditional, so that concurrent requests write once between them and most requests not at all.
        stale = Q(last_used_at=None) | Q(last_used_at__lte=now - LAST_USE_EVERY)
        ApiToken.objects.filter(stale, id=token.id).update(last_used_at=now)
    return user
