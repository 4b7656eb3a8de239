import json
import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotation.item_import import HTTP_MAX_IMPORT_BYTES, HTTP_MAX_IMPORT_LINES
from annotation.models import Annotation, Item
from tests.conftest import api_key, demo_rows

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
    return client


def jsonl(rows):
    return "\n".join(json.dumps(row) for row in rows)


def import_rows(client, rows, slug="demo"):
    return client.generic("POST", f"/api/v1/projects/{slug}/items/import/", jsonl(rows), "application/x-ndjson")


def test_it_trades_a_password_for_a_token(users):
    response = APIClient().post("/api/v1/auth/token/", {"username": "ann1", "password": "pw-ann1"}, format="json")
    assert response.status_code == 200 and response.json()["token"].startswith("qrm_")
    bad = APIClient().post("/api/v1/auth/token/", {"username": "ann1", "password": "wrong"}, format="json")
    assert bad.status_code == 400


def test_staff_create_projects_and_become_their_admin(users):
    users["admin"].is_staff = True
    users["admin"].save()
    client = client_for(users["admin"])
    body = {"name": "Legal", "slug": "legal", "overlap": 3, "task_type_mix": {"summarization": 0.5}}
    response = client.post("/api/v1/projects/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["role"] == "admin"
    taken = client.post("/api/v1/projects/", body, format="json")
    assert taken.status_code == 400 and taken.json()["field"] == "slug"
    bad = client.post("/api/v1/projects/", {**body, "slug": "x", "task_type_mix": {"poems": 1}}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "task_type_mix"


def test_the_whole_loop_over_http(project, users):
    project.gold_rate = 1.0
    project.save()
    admin, annotator = client_for(users["admin"]), client_for(users["ann1"])
    rows = demo_rows(2) + [
        {
            "kind": "preference",
            "prompt": "Pick",
            "responses": [{"text": "a", "source": "model:x"}, {"text": "b"}],
            "gold": {"choice": 1},
        }
    ]
    rows[0]["meta"] = {"client_ref": "a-17"}
    answer = import_rows(admin, rows).json()
    assert (answer["created"], answer["by_kind"]) == (3, {"demonstration": 2, "preference": 1})
    assert [(row["line"], row["meta"]) for row in answer["items"]] == [(1, {"client_ref": "a-17"}), (2, {}), (3, {})]
    assert sorted(row["id"] for row in answer["items"]) == sorted(Item.objects.values_list("id", flat=True))

    seen = []
    while (response := annotator.post("/api/v1/projects/demo/assignments/next/")).status_code == 200:
        assignment = response.json()
        item = assignment["item"]
        assert "gold" not in item and "meta" not in item
        assert all(set(r) == {"id", "text"} for r in item["responses"])
        payload = (
            {"choice": item["responses"][0]["id"], "strength": "slight"}
            if item["kind"] == "preference"
            else {"response": "Done."}
        )
        body = {"client_id": str(uuid.uuid4()), "payload": payload, "time_spent_ms": 1200}
        first = annotator.post(f"/api/v1/assignments/{assignment['id']}/submit/", body, format="json")
        retry = annotator.post(f"/api/v1/assignments/{assignment['id']}/submit/", body, format="json")
        assert (first.status_code, retry.status_code) == (201, 200)
        assert retry.json()["id"] == first.json()["id"]
        seen.append(item["id"])
    assert response.status_code == 204
    assert len(seen) == 3 and Annotation.objects.count() == 3

    mine = annotator.get("/api/v1/projects/demo/annotations/").json()
    assert len(mine["results"]) == 3 and {a["annotator"] for a in mine["results"]} == {"ann1"}
    detail = annotator.get("/api/v1/projects/demo/").json()
    assert (detail["item_count"], detail["my_annotations"], detail["role"]) == (3, 3, "annotator")


def test_import_reports_bad_lines_as_json(project, users):
    response = import_rows(client_for(users["admin"]), [*demo_rows(1), {"kind": "essay"}])
    assert response.status_code == 400
    body = response.json()
    assert "nothing was imported" in body["detail"]
    assert body["errors"] == [{"line": 2, "field": "kind", "message": body["errors"][0]["message"]}]
    assert Item.objects.count() == 0


def test_import_takes_a_multipart_file(project, users):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("items.jsonl", jsonl(demo_rows(3)).encode(), content_type="application/x-ndjson")
    response = client_for(users["admin"]).post(
        "/api/v1/projects/demo/items/import/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201 and response.json()["created"] == 3
    empty = client_for(users["admin"]).post("/api/v1/projects/demo/items/import/", {}, format="multipart")
    assert empty.status_code == 400 and empty.json()["field"] == "file"


def test_submit_errors_name_the_field(project, users, make_items):
    make_items(project, demo_rows(1, kind="refusal", safety="should_refuse", harm_category="cyber"))
    annotator = client_for(users["ann1"])
    assignment = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    url = f"/api/v1/assignments/{assignment['id']}/submit/"
    no_style = annotator.post(url, {"client_id": str(uuid.uuid4()), "payload": {"response": "No."}}, format="json")
    assert no_style.status_code == 400 and no_style.json()["field"] == "payload.refusal_style"
    no_uuid = annotator.post(url, {"client_id": "abc", "payload": {}}, format="json")
    assert no_uuid.status_code == 400 and no_uuid.json()["field"] == "client_id"
    not_json = annotator.generic("POST", url, "{oops", "application/json")
    assert not_json.status_code == 400 and "invalid JSON" in not_json.json()["detail"]


def test_skip_and_drafts_over_http(project, users, make_items):
    make_items(project, demo_rows(2))
    annotator = client_for(users["ann1"])
    assignment = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    draft_url = f"/api/v1/assignments/{assignment['id']}/draft/"
    saved = annotator.put(draft_url, {"payload": {"response": "half"}}, format="json").json()
    assert saved["version"] == 1
    assert annotator.put(draft_url, {"payload": {"response": "stale"}, "version": 7}, format="json").status_code == 409
    annotator.put(draft_url, {"payload": {"response": "half done"}, "version": 1}, format="json")
    again = annotator.post("/api/v1/projects/demo/assignments/next/").json()
    assert again["draft"]["payload"] == {"response": "half done"}

    skip = annotator.post(f"/api/v1/assignments/{assignment['id']}/skip/", {"reason": "unclear"}, format="json")
    assert skip.json()["status"] == "skipped"
    assert annotator.put(draft_url, {"payload": {}, "version": 2}, format="json").status_code == 409


def test_annotation_filters_are_whitelisted(project, users):
    reviewer = client_for(users["reviewer"])
    assert reviewer.get("/api/v1/projects/demo/annotations/?kind=preference").status_code == 200
    leak = reviewer.get("/api/v1/projects/demo/annotations/?annotator__password__startswith=p")
    assert leak.status_code == 400
    assert reviewer.get("/api/v1/projects/demo/annotations/?kind=essay").status_code == 400


def test_reviewers_see_everyone_and_annotators_only_themselves(project, users, make_items):
    make_items(project, demo_rows(1))
    for name in ["ann1", "ann2"]:
        client = client_for(users[name])
        assignment = client.post("/api/v1/projects/demo/assignments/next/").json()
        body = {"client_id": str(uuid.uuid4()), "payload": {"response": name}}
        client.post(f"/api/v1/assignments/{assignment['id']}/submit/", body, format="json")
    everyone = client_for(users["reviewer"]).get("/api/v1/projects/demo/annotations/").json()["results"]
    assert sorted(a["annotator"] for a in everyone) == ["ann1", "ann2"]
    only_ann2 = client_for(users["ann1"]).get("/api/v1/projects/demo/annotations/?annotator=ann2").json()["results"]
    assert only_ann2 == []


def test_schema_and_docs_are_served(users):
    schema = client_for(users["ann1"]).get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/projects/{slug}/assignments/next/" in schema.content
    docs = client_for(users["ann1"]).get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b'src="http' not in docs.content and b'href="http' not in docs.content  # nothing from a CDN


def test_item_list_filters_and_shows_gold_to_staff(project, users, make_items):
    make_items(project, [*demo_rows(2), {"kind": "demonstration", "prompt": "g", "gold": {"response": "G"}}])
    reviewer = client_for(users["reviewer"])
    items = reviewer.get("/api/v1/projects/demo/items/?kind=demonstration&page_size=2").json()
    assert len(items["results"]) == 2 and items["next"]
    rest = reviewer.get(items["next"]).json()["results"]
    assert rest[0]["gold"] == {"response": "G"}
    assert reviewer.get("/api/v1/projects/demo/items/?project__memberships__user=1").status_code == 400


def test_the_project_list_shows_each_project_once_with_my_role(project, users):
    listed = client_for(users["ann1"]).get("/api/v1/projects/").json()
    assert [(p["slug"], p["role"]) for p in listed] == [("demo", "annotator")]
    assert client_for(users["reviewer"]).get("/api/v1/projects/").json()[0]["role"] == "reviewer"


def assert_error_shape(response, status, field=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "field", "errors"} and body["detail"] and body["field"] == field
    return body


def test_every_api_error_has_the_one_shape(project, users, make_items):
    make_items(project, demo_rows(1))
    annotator = client_for(users["ann1"])
    live = annotator.post("/api/v1/projects/demo/assignments/next/").json()["id"]
    login = APIClient().post("/api/v1/auth/token/", {"username": "ann1", "password": "wrong"}, format="json")
    assert "Unable to log in" in assert_error_shape(login, 400)["detail"]
    no_password = APIClient().post("/api/v1/auth/token/", {"username": "ann1"}, format="json")
    assert assert_error_shape(no_password, 400, "password")["errors"] == [
        {"field": "password", "message": "This field is required."}
    ]
    bad_uuid = annotator.post(f"/api/v1/assignments/{live}/submit/", {"client_id": "x", "payload": {}}, format="json")
    assert assert_error_shape(bad_uuid, 400, "client_id")["detail"] == "client_id: Must be a valid UUID."
    assert_error_shape(annotator.get("/api/v1/projects/demo/annotations/?colour=red"), 400, "colour")
    assert_error_shape(annotator.get(f"/api/v1/projects/demo/annotations/?item={2**70}"), 400, "item")
    assert_error_shape(APIClient().get("/api/v1/projects/"), 401)
    assert_error_shape(annotator.get("/api/v1/projects/demo/items/"), 403)
    assert_error_shape(annotator.get(f"/api/v1/assignments/{live}/submit/"), 405)
    assert_error_shape(annotator.get("/api/v1/projects/nope/"), 404)
    assert_error_shape(annotator.get(f"/api/v1/assignments/{2**70}/draft/"), 404)
    assert_error_shape(annotator.get("/api/v1/no-such-thing/"), 404)
    assert_error_shape(APIClient(enforce_csrf_checks=True).post("/api/v1/no/such/thing/"), 404)
    guesses = [
        APIClient().post("/api/v1/auth/token/", {"username": "ann2", "password": f"guess {i}"}, format="json")
        for i in range(settings.LOGIN_FAILURE_LIMITS["username"] + 1)
    ]
    assert_error_shape(guesses[-1], 429)
    skip = f"/api/v1/assignments/{live}/skip/"
    assert_error_shape(annotator.generic("POST", skip, "reason", "text/csv"), 415)
    assert_error_shape(annotator.generic("POST", skip, b'{"reason": "\xff"}', "application/json"), 400)


def test_http_imports_stay_inside_the_worker_timeout(project, users):
    admin = client_for(users["admin"])
    url = "/api/v1/projects/demo/items/import/"
    too_big = admin.generic("POST", url, "{}", "application/x-ndjson", CONTENT_LENGTH=str(HTTP_MAX_IMPORT_BYTES + 1))
    assert "manage.py import_items" in assert_error_shape(too_big, 400)["detail"]
    rows = [{"kind": "demonstration", "prompt": f"p{i}"} for i in range(HTTP_MAX_IMPORT_LINES + 1)]
    too_long = assert_error_shape(import_rows(admin, rows), 400)
    assert too_long["errors"][-1]["line"] == HTTP_MAX_IMPORT_LINES + 1
    assert "manage.py import_items" in too_long["errors"][-1]["message"]
    assert not Item.objects.exists()


def test_an_upload_with_a_byte_order_mark_imports(project, users):
    body = ("\ufeff" + jsonl(demo_rows(2))).encode()
    upload = SimpleUploadedFile("items.jsonl", body, content_type="application/x-ndjson")
    response = client_for(users["admin"]).post("/api/v1/projects/demo/items/import/", {"file": upload})
    assert response.status_code == 201 and response.json()["created"] == 2
