"""Junk in the browser endpoints' own fields is a 4xx with a message, never a 500 or a silently invented value."""

import uuid

import pytest
from django.test import Client

from annotation.assignment import annotation_submit, assignment_next
from annotation.documents import document_import
from annotation.models import Annotation, Assignment, AuthorDraft, Draft
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PAIR = [{"text": "first"}, {"text": "second"}]


def post(client, token, url, data, **extra):
    return client.post(url, data, HTTP_X_CSRFTOKEN=token, **extra)


def test_junk_draft_versions_are_refused_with_a_message(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    for url in [f"/p/demo/annotate/{assignment.id}/draft/", "/p/demo/author/instruction/draft/"]:
        for junk in ["abc", "1.5", "²", "99999999999999999999999"]:
            response = post(browser_client, token, url, {"response": "x", "draft_version": junk})
            assert response.status_code == 400, (url, junk, response.content[:200])
            assert response.json()["field"] == "draft_version" and response.json()["detail"]
    assert not Draft.objects.exists() and not AuthorDraft.objects.exists()


def test_a_bad_time_on_task_is_refused_and_the_client_id_kept(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    client_id = str(uuid.uuid4())
    url = f"/p/demo/annotate/{assignment.id}/submit/"
    for junk in ["abc", "-5", "1e9", str(10**30)]:
        data = {"client_id": client_id, "response": "My answer", "time_spent_ms": junk}
        response = post(browser_client, token, url, data, **HTMX)
        assert response.status_code == 422 and "time_spent_ms" in response.content.decode(), junk
    assert not Annotation.objects.exists()
    for junk in ["", "not-a-uuid"]:
        response = post(browser_client, token, url, {"client_id": junk, "response": "My answer"}, **HTMX)
        assert response.status_code == 422 and "client_id" in response.content.decode()
    assert not Annotation.objects.exists()
    post(browser_client, token, url, {"client_id": client_id, "response": "My answer", "time_spent_ms": "900"}, **HTMX)
    assert str(Annotation.objects.get().client_id) == client_id


def test_junk_ids_in_review_adjudication_and_authoring_are_refused(project, users, make_items, browser_client):
    items = make_items(project, [*demo_rows(1), {"kind": "preference", "prompt": "Pick", "responses": PAIR}])
    document_import(project=project, user=users["admin"], title="Doc", domain="legal", text="A passage.\n\nMore.")
    token = login(browser_client, users["reviewer"])
    review = post(browser_client, token, "/p/demo/review/", {"annotation": "abc", "decision": "accept"})
    assert review.status_code == 422 and "Annotation: Enter a whole number." in review.content.decode()
    for junk in ["²", "7", "-1", "left"]:
        adjudication = post(browser_client, token, f"/p/demo/quality/disputes/{items[1].id}/", {"choice": junk})
        assert adjudication.status_code == 422 and "choice" in adjudication.content.decode(), junk
    data = {"client_id": str(uuid.uuid4()), "passage": "abc", "instruction": "Summarise it.", "response": "It is."}
    grounded = post(browser_client, token, "/p/demo/author/grounded/", data | {"task_type": "summarization"})
    assert grounded.status_code == 422 and "passage" in grounded.content.decode()
    huge = data | {"passage": "", "task_type": "open_qa", "time_spent_ms": str(2**70)}
    assert post(browser_client, token, "/p/demo/author/instruction/", huge).status_code == 422
    assert not Annotation.objects.exists()


def test_authoring_with_another_users_client_id_is_a_conflict(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    assignment = assignment_next(project=project, user=users["ann2"])
    theirs, _ = annotation_submit(
        assignment_id=assignment.id, user=users["ann2"], client_id=uuid.uuid4(), payload={"response": "x"}
    )
    token = login(browser_client, users["ann1"])
    data = {"client_id": str(theirs.client_id), "instruction": "New one", "response": "Yes", "task_type": "open_qa"}
    response = post(browser_client, token, "/p/demo/author/instruction/", data)
    assert response.status_code == 409 and "client_id was already used" in response.content.decode()
    assert Annotation.objects.count() == 1


def test_options_on_the_draft_endpoints_is_not_a_500(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    assert browser_client.options(f"/p/demo/annotate/{assignment.id}/draft/").status_code == 405
    api = Client()
    api.force_login(users["ann1"])
    assert api.options(f"/api/v1/assignments/{assignment.id}/draft/").status_code == 200


def test_drafts_saved_through_the_api_with_junk_do_not_break_the_pages(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    document_import(project=project, user=users["admin"], title="Doc", domain="legal", text="A passage.\n\nMore.")
    login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    # The API stores any JSON object as a draft; these are what it accepted before the pages read them.
    for junk in [{"turns": "abc", "response": ["x"]}, {"turns": [[1], "ab", None]}, {"client_id": 5}]:
        Draft.objects.update_or_create(assignment=assignment, defaults={"payload": junk})
        assert browser_client.get("/p/demo/annotate/").status_code == 200, junk
    for passage in ["abc", [1], 2**70, {"a": 1}]:
        AuthorDraft.objects.update_or_create(
            project=project, user=users["ann1"], mode="grounded", defaults={"payload": {"passage": passage}}
        )
        assert browser_client.get("/p/demo/author/grounded/").status_code == 200, passage


LONG = "x" * 20_001


def test_skip_names_the_bad_field_and_keeps_the_item(project, users, make_items, browser_client):
    make_items(project, demo_rows(2))
    token = login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    url = f"/p/demo/annotate/{assignment.id}/skip/"
    for data, field in [
        ({"reason": "other", "other_reason": "  "}, "other_reason"),
        ({"reason": "other", "other_reason": "a\x00b"}, "other_reason"),
        ({"reason": "other", "other_reason": "y" * 501}, "other_reason"),
        ({}, "reason"),
        ({"reason": "y" * 501}, "reason"),
    ]:
        response = post(browser_client, token, url, data, **HTMX)
        assert response.status_code == 422 and f"{field}: " in response.content.decode(), data
    assert Assignment.objects.get(id=assignment.id).status == "active"
    response = post(browser_client, token, url, {"reason": "other", "other_reason": "Needs a lawyer"}, **HTMX)
    assert response.status_code == 200
    assert Assignment.objects.get(id=assignment.id).skip_reason == "Needs a lawyer"


def test_preview_and_hints_refuse_junk_by_name(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    hints = f"/p/demo/annotate/{assignment.id}/hints/"
    for url, data, field in [
        ("/p/demo/preview/", {"field": "password", "password": "x"}, "field"),
        ("/p/demo/preview/", {"field": "response", "response": LONG}, "response"),
        ("/p/demo/preview/", {"text": "a\x00b"}, "text"),
        (hints, {"response": LONG}, "response"),
        (hints, {"response": "a\x00b"}, "response"),
        ("/p/demo/author/instruction/hints/", {"instruction": "a\x00b"}, "instruction"),
    ]:
        response = post(browser_client, token, url, data, **HTMX)
        body = response.content.decode()
        assert response.status_code == 422 and body.startswith(f'<p class="error" role="alert">{field}: '), (url, data)
    shown = post(browser_client, token, "/p/demo/preview/", {"field": "response", "response": "*hi*"}, **HTMX)
    assert shown.status_code == 200 and "<em>hi</em>" in shown.content.decode()


def test_a_refused_paraphrase_says_why_and_keeps_the_text(project, users, make_items, browser_client):
    (item,) = make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    url = f"/p/demo/items/{item.id}/paraphrases/"
    for text in ["", LONG, "a\x00b"]:
        response = post(browser_client, token, url, {"text": text}, **HTMX)
        assert response.status_code == 422 and "text: " in response.content.decode(), text[:10]
    response = post(browser_client, token, url, {"text": "Prompt number 0"}, **HTMX)
    assert response.status_code == 422 and ">Prompt number 0</textarea>" in response.content.decode()
    assert not item.paraphrases.exists()


def test_documents_and_authoring_drafts_name_the_bad_field(project, users, make_items, browser_client):
    token = login(browser_client, users["admin"])
    for data, field in [
        ({"title": "T", "domain": "d" * 101, "text": "A passage."}, "domain"),
        ({"title": "T" * 201, "domain": "legal", "text": "A passage."}, "title"),
        ({"title": "T", "domain": "legal", "text": "a\x00b"}, "text"),
    ]:
        response = post(browser_client, token, "/p/demo/documents/", data)
        assert response.status_code == 422 and f"{field}: " in response.content.decode(), field
    assert not project.documents.exists()
    url = "/p/demo/author/grounded/draft/"
    for data, field in [({"instruction": "a\x00b"}, "instruction"), ({"passage": "²"}, "passage")]:
        response = post(browser_client, token, url, data)
        assert response.status_code == 400 and response.json()["field"] == field, data
    assert post(browser_client, token, url, {"instruction": "Why?", "passage": "7"}).status_code == 200
    assert AuthorDraft.objects.get().payload["passage"] == 7


def test_dashboard_queries_are_checked(project, users, make_items, browser_client):
    login(browser_client, users["admin"])
    for url, field in [
        ("/p/demo/quality/coverage/?format=csv&table=<b>junk</b>", "table"),
        ("/p/demo/quality/annotators/?format=xlsx", "format"),
        ("/p/demo/quality/disputes/?table=%00", "table"),
        ("/p/demo/review/?annotator=%00", "annotator"),
        (f"/p/demo/review/?annotator={'a' * 151}", "annotator"),
    ]:
        response = browser_client.get(url)
        body = response.content.decode()
        assert response.status_code == 400 and f"{field}: " in body.lower() and "<b>" not in body, url
    csv = browser_client.get("/p/demo/quality/coverage/?format=csv&table=safety")
    assert csv.status_code == 200 and csv.content.decode().startswith("harm_category,")
