import pytest

DB_FIXTURES = {"db", "transactional_db", "django_db_setup"}


@pytest.fixture(autouse=True)
def fresh_process_caches(request):
    """Caches and LSH indexes are keyed by project id, and a rolled-back test database reuses ids.

    The cache lives in the database (settings.CACHES), so only a test with database access has one to clear."""
    from django.core.cache import cache

    from annotation import neardup

    neardup._indexes.clear()
    if DB_FIXTURES & set(request.fixturenames) or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        cache.clear()


def pytest_collection_modifyitems(items):
    for item in items:
        if DB_FIXTURES & set(item.fixturenames) or item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.db)


@pytest.fixture
def users(django_user_model):
    """An admin, a reviewer, two annotators and an outsider who belongs to nothing."""
    names = ["admin", "reviewer", "ann1", "ann2", "outsider"]
    return {name: django_user_model.objects.create_user(username=name, password="pw-" + name) for name in names}


@pytest.fixture
def project(users):
    from annotation.models import Membership
    from annotation.projects import project_create

    project = project_create(creator=users["admin"], name="Demo", slug="demo", overlap=2)
    for name, role in [("reviewer", "reviewer"), ("ann1", "annotator"), ("ann2", "annotator")]:
        Membership.objects.create(project=project, user=users[name], role=role)
    return project


@pytest.fixture
def make_items():
    """Import items given as dicts into a project; returns them in import order."""
    import json

    from annotation.item_import import item_import
    from annotation.models import Item

    def make(project, rows):
        item_import(project=project, lines=[json.dumps(row) for row in rows])
        return list(Item.objects.filter(project=project).order_by("id"))

    return make


def demo_rows(n, kind="demonstration", **extra):
    return [{"kind": kind, "prompt": f"Prompt number {i}", **extra} for i in range(n)]


@pytest.fixture
def browser_client():
    """A logged-out Django client that enforces CSRF like a browser session does."""
    from django.test import Client

    return Client(enforce_csrf_checks=True)


def login(client, user):
    """Log `user` in and return the CSRF token their pages carry."""
    client.force_login(user)
    client.get("/")
    return client.cookies["csrftoken"].value


@pytest.fixture
def annotator(users):
    """An API client signed in as ann1 by token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['ann1'])}")
    client.get("/api/v1/projects/")  # the token's last use is written now, then at most once a minute
    return client


def api_key(user) -> str:
    """A new API key of `user`, for `Authorization: Token <key>`."""
    from annotation.api_tokens import token_create

    return token_create(user=user, name="test")[1]
