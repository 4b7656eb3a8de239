"""Every endpoint as admin, reviewer, annotator, outsider and anonymous, each with the status it must get."""

import json
import uuid

import pytest
from rest_framework.test import APIClient

from annotation.assignment import assignment_next
from tests.conftest import api_key, demo_rows

pytestmark = pytest.mark.django_db

WHO = ["admin", "reviewer", "ann1", "outsider", None]


def own(kind):
    """An endpoint on ann1's assignment: only ann1 may touch it."""
    return {"admin": 404, "reviewer": 404, "ann1": kind, "outsider": 404, None: 401}


MATRIX = [
    ("get", "/api/v1/projects/demo/", None, {"admin": 200, "reviewer": 200, "ann1": 200, "outsider": 404, None: 401}),
    (
        "get",
        "/api/v1/projects/demo/members/",
        None,
        {"admin": 200, "reviewer": 200, "ann1": 403, "outsider": 404, None: 401},
    ),
    (
        "post",
        "/api/v1/projects/demo/members/",
        {"username": "outsider", "role": "reviewer"},
        {"admin": 201, "reviewer": 403, "ann1": 403, "outsider": 404, None: 401},
    ),
    (
        "get",
        "/api/v1/projects/demo/items/",
        None,
        {"admin": 200, "reviewer": 200, "ann1": 403, "outsider": 404, None: 401},
    ),
    (
        "import",
        "/api/v1/projects/demo/items/import/",
        None,
        {"admin": 201, "reviewer": 403, "ann1": 403, "outsider": 404, None: 401},
    ),
    (
        "post",
        "/api/v1/projects/demo/assignments/next/",
        None,
        {"admin": 200, "reviewer": 200, "ann1": 200, "outsider": 404, None: 401},
    ),
    (
        "get",
        "/api/v1/projects/demo/annotations/",
        None,
        {"admin": 200, "reviewer": 200, "ann1": 200, "outsider": 404, None: 401},
    ),
    ("post", "/api/v1/assignments/{own}/submit/", {"client_id": "SET", "payload": {"response": "x"}}, own(201)),
    ("post", "/api/v1/assignments/{own}/skip/", {"reason": "unclear"}, own(200)),
    ("get", "/api/v1/assignments/{own}/draft/", None, own(200)),
    ("put", "/api/v1/assignments/{own}/draft/", {"payload": {"response": "x"}}, own(200)),
    (
        "post",
        "/api/v1/projects/",
        {"name": "N", "slug": "n"},
        {"admin": 403, "reviewer": 403, "ann1": 403, "outsider": 403, None: 401},
    ),
    ("get", "/api/v1/projects/", None, {"admin": 200, "reviewer": 200, "ann1": 200, "outsider": 200, None: 401}),
]


@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "anonymous")
@pytest.mark.parametrize(("method", "url", "body", "expected"), MATRIX, ids=[f"{m} {u}" for m, u, _, _ in MATRIX])
def test_it_enforces_membership_and_role(project, users, make_items, who, method, url, body, expected):
    make_items(project, demo_rows(3))
    assignment = assignment_next(project=project, user=users["ann1"])
    client = APIClient()
    if who:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users[who])}")
    url = url.replace("{own}", str(assignment.id))
    if body and body.get("client_id") == "SET":
        body = {**body, "client_id": str(uuid.uuid4())}
    if method == "import":
        response = client.generic(
            "POST", url, json.dumps({"kind": "demonstration", "prompt": "new"}), "application/x-ndjson"
        )
    else:
        response = getattr(client, method)(url, body, format="json")
    assert response.status_code == expected[who], response.content


def test_outsiders_do_not_see_the_project_in_lists(project, users):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['outsider'])}")
    assert client.get("/api/v1/projects/").json() == []


def test_sessions_need_a_csrf_token_for_writes(project, users, make_items):
    make_items(project, demo_rows(1))
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(users["ann1"])
    assert client.post("/api/v1/projects/demo/assignments/next/").status_code == 403
    client.get("/")  # the page hands out the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post("/api/v1/projects/demo/assignments/next/", HTTP_X_CSRFTOKEN=token).status_code == 200
