"""Password guessing, throttled per username and per client address in the shared cache.

Every failed login (the login page, the admin's, the API token endpoint) counts against both its username and
its client address. While either has reached its limit within the window, no password is checked for it, right
or wrong: the web pages answer a 429 page, the API a 429 {"detail": ...}.
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.shortcuts import render
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle


class LoginThrottled(Throttled):
    def __init__(self, wait: int):
        super().__init__(wait, f"Too many failed logins; try again in {wait} seconds.")


def client_address(request) -> str:
    """REMOTE_ADDR, or the X-Forwarded-For entry the NUM_PROXIES trusted proxies vouch for."""
    return BaseThrottle().get_ident(request)


def _counters(request, username: str | None) -> list[tuple[str, int]]:
    """(cache key, limit) for each counter this attempt is charged to."""
    named = []
    if username:
        named.append(("username", str(username).casefold()))
    if request is not None:
        named.append(("address", client_address(request)))
    return [
        (
            "login-failures:" + hashlib.sha256(f"{kind}:{value}".encode()).hexdigest(),
            settings.LOGIN_FAILURE_LIMITS[kind],
        )
        for kind, value in named
    ]


def _recent(times: list[float], now: float) -> list[float]:
    return [t for t in times if t > now - settings.LOGIN_FAILURE_WINDOW_SECONDS]


def seconds_blocked(request, username: str | None) -> int:
    """0 when a login may be tried now, else how long until the oldest counted failure leaves the window."""
    now = time.time()
    counters = _counters(request, username)
    found = cache.get_many([key for key, _ in counters])
    waits = [0]
    for key, limit in counters:
        recent = _recent(found.get(key, []), now)
        if len(recent) >= limit:
            waits.append(math.ceil(recent[-limit] + settings.LOGIN_FAILURE_WINDOW_SECONDS - now))
    return max(waits)


@receiver(user_login_failed)
def failure_record(sender, credentials, request=None, **kwargs):
    now = time.time()
    for key, limit in _counters(request, credentials.get("username")):
        recent = _recent(cache.get(key, []), now)[-limit:]
        cache.set(key, [*recent, now], settings.LOGIN_FAILURE_WINDOW_SECONDS)


class ThrottledModelBackend(ModelBackend):
    """Django's username and password check, not even tried while the username or the address is blocked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        wait = seconds_blocked(request, username)
        if wait:
            raise LoginThrottled(wait)
        return super().authenticate(request, username, password, **kwargs)


class LoginThrottleMiddleware:
    """The login pages' answer to a blocked attempt (the API's comes from DRF's exception handling)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, LoginThrottled):
            return None
        response = render(request, "registration/throttled.html", {"wait": exception.wait}, status=429)
        response["Retry-After"] = str(exception.wait)
        return response
