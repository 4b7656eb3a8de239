"""Strict readers for settings that come from the environment."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

WEAK_KEY_MESSAGE = (
    "SECRET_KEY must be at least 50 characters of random text, with at least 10 distinct characters and no "
    "repeated run of 8; make one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
)


def env_str(name: str, default: str | None = None) -> str:
    """A string from NAME, or from the file named by NAME_FILE (for secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE is {path!r}, which cannot be read: {exc.strerror}.") from None
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Set {name} (or {name}_FILE) in the environment.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}.")
    return value == "True"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit():
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.")
    return int(value)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def strong_secret(value: str) -> str:
    """The key itself, or an error when it is short, drawn from few characters, or repeats itself."""
    runs = [value[i : i + 8] for i in range(len(value) - 7)]
    if len(value) < 50 or len(set(value)) < 10 or len(set(runs)) < len(runs):
        raise ImproperlyConfigured(WEAK_KEY_MESSAGE)
    return value
