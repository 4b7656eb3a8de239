"""Junk sent to every web and API endpoint (found through the URL resolver, so a new one is covered on its own)
by a member with the right role: a 4xx with a message, or a normal answer, and never a 500."""

import json
import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from annotation import assignment as engine
from annotation.api.renderers import BrowsableAPIRenderer, JSONRenderer
from annotation.documents import document_import
from annotation.models import Item
from tests.conftest import api_key, demo_rows
from training.models import Snapshot

pytestmark = pytest.mark.django_db

HUGE = str(2**70)
SKIPPED_NAMESPACES = {"admin"}  # Django's own admin site, tested upstream
FIELDS = [
    "action", "all_unacceptable", "annotation", "better_response", "choice", "client_id", "context", "continuation",
    "criteria", "decision", "disagree", "disagree_reason", "domain", "draft_version", "eval_fraction", "file",
    "gold", "harm_category", "harmful_prompt", "instruction", "item", "kind", "name", "note", "other_reason",
    "overlap", "passage", "password", "payload", "prompt", "rationale", "reason", "refusal", "refusal_style",
    "response", "responses", "role", "seed", "slug", "strength", "task_type", "text", "time_spent_ms", "title",
    "twin_answer", "twin_prompt", "username", "version",
]  # fmt: skip
FORM_JUNK = ["²", HUGE, "-1", "NaN", "1e999", "a\x00b", "not-a-uuid", "", "x" * 30_000]
JSON_JUNK = [["a", "list"], 2**70, -1, 1.5, True, None, {"deep": [[[[]]]]}, "a\x00b", "lone \udc00", "²"]
RAW_JSON = [
    b"NaN",
    b'{"payload": {"response": 1e999}, "client_id": "x"}',
    b'{"n": ' + b"9" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'"a string"',
    b"[1, 2]",
    b"{oops",
    b"\xff\xfe\xfa not utf-8",
]
QUERY_JUNK = [
    f"?item={HUGE}",
    f"?item={HUGE}&cursor=junk&page_size=-5&kind=²",
    "?since=yesterday&until=\x00&annotator[]=x",
]


def routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace not in SKIPPED_NAMESPACES:
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name or prefix + str(pattern.pattern)


ROUTES = dict((name, route) for route, name in routes(get_resolver().url_patterns))


@pytest.fixture
def world(project, users, make_items):
    """The admin (staff) owns a live assignment and a submitted annotation; ann1's work awaits review."""
    users["admin"].is_staff = True
    users["admin"].save()
    make_items(
        project, demo_rows(4) + [{"kind": "preference", "prompt": "Pick", "responses": [{"text": "a"}, {"text": "b"}]}]
    )
    theirs = engine.assignment_next(project=project, user=users["ann1"])
    review, _ = engine.annotation_submit(
        assignment_id=theirs.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "Theirs."}
    )
    mine = engine.assignment_next(project=project, user=users["admin"])
    own, _ = engine.annotation_submit(
        assignment_id=mine.id, user=users["admin"], client_id=uuid.uuid4(), payload={"response": "Mine."}
    )
    live = engine.assignment_next(project=project, user=users["admin"])
    document_import(project=project, user=users["admin"], title="Doc", domain="legal", text="A passage.")
    snapshot = Snapshot.objects.create(project=project, version=1, config={}, status="ready")
    return {
        "slug": "demo",
        "mode": "instruction",
        "username": "ann1",
        "name": "train.jsonl",
        "version": "1",
        "item_id": str(Item.objects.get(prompt="Pick").id),
        "pk": str(live.id),
        "work-edit": str(own.id),
        "review-history": str(review.id),
        "api-snapshot": str(snapshot.id),
        "api-snapshot-file": str(snapshot.id),
        "admin": users["admin"],
    }


def url_for(name: str, route: str, world: dict, *, huge: bool) -> str:
    def value(match):
        converter, param = match.group(1) or "str", match.group(2)
        if huge and converter == "int":
            return HUGE
        return world.get(name) if param == "pk" and name in world else world.get(param, "junk")

    path = re.sub(r"<(?:(\w+):)?(\w+)>", value, route)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "junk/", path)
    return "/" + path.strip("^$")


def requests_for(url: str):
    """(method, url, body, content type) for every kind of junk."""
    for query in QUERY_JUNK:
        yield "get", url + query, None, None
    for junk in FORM_JUNK:
        yield "post", url, {field: junk for field in FIELDS}, None
    yield "post", url, b"response=%ff%fe&draft_version=%ED%B0%80", "application/x-www-form-urlencoded"
    for junk in JSON_JUNK:
        body = json.dumps({field: junk for field in FIELDS} | {"payload": {field: junk for field in FIELDS}})
        yield "post", url, body, "application/json"
        yield "put", url, body, "application/json"
    for raw in RAW_JSON:
        yield "post", url, raw, "application/json"
        yield "put", url, raw, "application/json"
    yield "post", url, b"\xff\xfe junk", "application/x-ndjson"
    for method in ["patch", "delete", "options", "head"]:
        yield method, url, None, None


def send(client, method, url, body, content_type):
    if content_type is None:
        return getattr(client, method)(url, body) if body is not None else getattr(client, method)(url)
    return client.generic(method.upper(), url, body, content_type)


def _explained(method: str, response) -> bool:
    """A 4xx says what went wrong in its body (a 405 in its Allow header; a HEAD answer has no body)."""
    return (
        method == "head"
        or bool(response.content.strip())
        or (response.status_code == 405 and response.has_header("Allow"))
    )


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_junk_never_gets_a_500(world, name):
    admin = world["admin"]
    web = Client(raise_request_exception=False)
    web.force_login(admin)
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {api_key(admin)}")
    client = api if ROUTES[name].startswith("api/") else web
    failures = []
    for huge in (False, True):
        url = url_for(name, ROUTES[name], world, huge=huge)
        for method, target, body, content_type in requests_for(url):
            response = send(client, method, target, body, content_type)
            described = f"{method.upper()} {target[:80]} {str(body)[:60]!r}"
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {described}")
            elif 400 <= response.status_code < 500 and not _explained(method, response):
                failures.append(f"{response.status_code} without a message: {described}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", sorted(name for name, route in ROUTES.items() if route.startswith("api/")))
def test_the_browsable_api_of_debug_mode_renders_every_page(world, name, monkeypatch):
    monkeypatch.setattr(APIView, "renderer_classes", [JSONRenderer, BrowsableAPIRenderer])  # what DEBUG=True sets
    client = Client(raise_request_exception=False)
    client.force_login(world["admin"])
    for huge in (False, True):
        url = url_for(name, ROUTES[name], world, huge=huge)
        response = client.get(url + QUERY_JUNK[0] if huge else url, HTTP_ACCEPT="text/html")
        assert response.status_code < 500, f"{response.status_code} GET {url}"
