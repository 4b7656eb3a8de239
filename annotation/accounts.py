"""User accounts: creating one with Django's username and password rules, every problem reported by field."""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from annotation.errors import InvalidInput

USERNAME_MAX = 150


def _problems(username: str, password: str, password2: str, email: str) -> list[dict]:
    errors = []
    User = get_user_model()
    if not username:
        errors.append({"field": "username", "message": "Choose a username."})
    elif len(username) > USERNAME_MAX:
        errors.append({"field": "username", "message": f"A username has at most {USERNAME_MAX} characters."})
    else:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError as exc:
            errors.append({"field": "username", "message": " ".join(exc.messages)})
        if User.objects.filter(username__iexact=username).exists():
            errors.append({"field": "username", "message": f"{username!r} is taken; choose another username."})
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append({"field": "email", "message": f"{email!r} is not an email address."})
    if password != password2:
        errors.append({"field": "password2", "message": "The two passwords differ."})
    try:
        password_validation.validate_password(password, User(username=username, email=email))
    except ValidationError as exc:
        errors.extend({"field": "password", "message": message} for message in exc.messages)
    return errors


def user_create(*, username: str, password: str, password2: str | None = None, email: str = ""):
    """Create a user; InvalidInput lists every problem with the username, email and password (Django's password
    validators), and names the first. `password2`, when given, must repeat the password."""
    username, email = username.strip(), email.strip()
    errors = _problems(username, password, password if password2 is None else password2, email)
    if errors:
        raise InvalidInput(errors[0]["message"], field=errors[0]["field"], errors=errors)
    try:
        with transaction.atomic():
            return get_user_model().objects.create_user(username=username, password=password, email=email)
    except IntegrityError:
        raise InvalidInput(f"{username!r} is taken; choose another username.", field="username") from None
