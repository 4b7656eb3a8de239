import functools

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Every response carries settings.CONTENT_SECURITY_POLICY unless its view set its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


def inline_styles_allowed(view):
    """For third-party pages (Swagger UI) that set style attributes from script: scripts stay 'self' only."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = (
            f"{settings.CONTENT_SECURITY_POLICY}; style-src 'self' 'unsafe-inline'"
        )
        return response

    return wrapped
