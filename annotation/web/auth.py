"""Login for the browser pages: full pages redirect to the login page, scripted requests get a 401 they can show."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.utils.html import format_html
from django.views.csrf import csrf_failure as django_csrf_failure

SESSION_EXPIRED = "Your session has expired. Log in again in another tab; your text is kept on this page."
CSRF_EXPIRED = (
    "Your session or this page's security token has expired. Log in again in another tab; "
    "your text is kept on this page."
)


def session_required(view):
    """Like `login_required`, except that htmx, JSON and form posts answer 401 instead of redirecting.

    A redirect would be followed by fetch and htmx, and the login page taken for the answer (a false "Saved",
    or the login form swapped into the workspace in place of the annotator's text).
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method in ("GET", "HEAD") and not request.htmx and not wants_json(request):
            return redirect_to_login(request.get_full_path())
        if wants_json(request):
            return JsonResponse({"detail": SESSION_EXPIRED, "login_url": settings.LOGIN_URL}, status=401)
        link = '<p class="error" role="alert">{} <a href="{}" target="_blank">Log in</a></p>'
        body = format_html(link, SESSION_EXPIRED, settings.LOGIN_URL)
        return HttpResponse(body, status=401)

    return wrapper


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a scripted request (its cookies cleared or expired) gets a 403 it can offer a login for.

    Django checks the token before any view runs, so without this a save with no csrftoken cookie left would say
    only "403 Forbidden", where the same request without the session cookie says to log in again.
    """
    if not request.htmx and not wants_json(request):
        return django_csrf_failure(request, reason)
    return JsonResponse({"detail": CSRF_EXPIRED, "login_url": settings.LOGIN_URL}, status=403)
