from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import QuorumError


def error_body(detail: str, *, field: str | None = None, errors: list[dict] | None = None) -> dict:
    """The one shape of every API error (README): what went wrong, the first field at fault, and every problem."""
    return {"detail": detail, "field": field or None, "errors": errors or []}


def _problems(detail, field: str = ""):
    """(field, message) for every message in a DRF validation error, fields as dotted paths."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            yield from _problems(value, f"{field}.{name}" if field and name else field or name)
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            yield from _problems(value, f"{field}[{i}]" if isinstance(value, dict | list) else field)
    else:
        yield field, str(detail)


def _validation_body(exc: ValidationError) -> dict:
    problems = list(_problems(exc.detail)) or [("", "Invalid input.")]
    field, message = problems[0]
    return error_body(
        f"{field}: {message}" if field else message,
        field=field,
        errors=[{"field": name, "message": text} for name, text in problems],
    )


def exception_handler(exc, context):
    """Every error as `{"detail", "field", "errors"}`: domain errors with their own status, DRF's with its status
    and headers (WWW-Authenticate, Retry-After)."""
    if isinstance(exc, QuorumError):
        return Response(error_body(exc.message, field=exc.field, errors=exc.errors), status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = _validation_body(exc)
    else:
        response.data = error_body(str(response.data.get("detail", exc)))
    return response


@csrf_exempt
def unknown_endpoint(request, path: str = ""):
    """A JSON 404 for any URL under the API that names no endpoint, instead of Django's HTML page."""
    return JsonResponse(
        error_body(f"No API endpoint at {request.path}; the endpoints are listed at /api/v1/docs/."), status=404
    )
