"""Comments on items: annotators and reviewers leave them, admins see the open ones and resolve them."""

import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.editing import annotation_edit
from annotation.models import AuditEvent, Comment, Membership
from annotation.projects import project_create
from annotation.review import review_decide
from tests.conftest import api_key, login

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
    return client


@pytest.fixture
def handed_out(project, users, make_items):
    """Two items; ann1 holds an assignment on the first, nobody on the second."""
    first, second = make_items(project, [{"kind": "demonstration", "prompt": f"Prompt {i}"} for i in range(2)])
    assert assignment_next(project=project, user=users["ann1"]).item_id == first.id
    return first, second


def test_an_annotator_comments_from_the_workspace(handed_out, users, browser_client):
    first, _ = handed_out
    token = login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert f'action="/p/demo/items/{first.id}/comments/"' in page
    response = browser_client.post(
        f"/p/demo/items/{first.id}/comments/",
        {"text": "The passage is <b>truncated</b>"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Comment sent" in response.content.decode()
    comment = Comment.objects.get()
    assert (comment.item_id, comment.author, comment.text) == (
        first.id,
        users["ann1"],
        "The passage is <b>truncated</b>",
    )


def test_an_empty_comment_keeps_the_form_with_a_message(handed_out, users, browser_client):
    first, _ = handed_out
    token = login(browser_client, users["ann1"])
    url = f"/p/demo/items/{first.id}/comments/"
    response = browser_client.post(url, {"text": "  "}, HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "write the comment" in response.content.decode()
    too_long = browser_client.post(url, {"text": "x" * 2001}, HTTP_X_CSRFTOKEN=token)
    assert too_long.status_code == 422 and "x" * 2001 in too_long.content.decode()
    assert not Comment.objects.exists()


def test_an_annotator_cannot_comment_on_an_item_never_handed_to_them(handed_out, users, browser_client):
    _, second = handed_out
    token = login(browser_client, users["ann1"])
    assert (
        browser_client.post(f"/p/demo/items/{second.id}/comments/", {"text": "hm"}, HTTP_X_CSRFTOKEN=token).status_code
        == 404
    )
    assert (
        api(users["ann2"]).post("/api/v1/projects/demo/comments/", {"item": second.id, "text": "hm"}).status_code == 404
    )
    login(browser_client, users["outsider"])
    token = browser_client.cookies["csrftoken"].value
    assert (
        browser_client.post(f"/p/demo/items/{second.id}/comments/", {"text": "hm"}, HTTP_X_CSRFTOKEN=token).status_code
        == 404
    )
    assert not Comment.objects.exists()


def test_a_reviewer_comments_on_any_item_and_from_the_review_page(project, users, make_items, browser_client):
    (item,) = make_items(project, [{"kind": "demonstration", "prompt": "Explain DNS"}])
    assignment = assignment_next(project=project, user=users["ann1"])
    annotation_submit(
        assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "A."}
    )
    token = login(browser_client, users["reviewer"])
    assert f'action="/p/demo/items/{item.id}/comments/"' in browser_client.get("/p/demo/review/").content.decode()
    response = browser_client.post(
        f"/p/demo/items/{item.id}/comments/", {"text": "Vague prompt"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 302 and response["Location"] == f"/p/demo/items/{item.id}/"
    assert Comment.objects.get().author == users["reviewer"]


def test_admins_see_open_comments_and_resolve_them(handed_out, users, browser_client):
    first, _ = handed_out
    api(users["ann1"]).post("/api/v1/projects/demo/comments/", {"item": first.id, "text": "Truncated passage"})
    comment = Comment.objects.get()
    token = login(browser_client, users["admin"])
    page = browser_client.get("/p/demo/comments/").content.decode()
    assert "Truncated passage" in page and f"/p/demo/comments/{comment.id}/resolve/" in page
    assert browser_client.post(f"/p/demo/comments/{comment.id}/resolve/", HTTP_X_CSRFTOKEN=token).status_code == 302
    comment.refresh_from_db()
    assert comment.resolved_by == users["admin"] and comment.resolved_at is not None
    assert "Truncated passage" not in browser_client.get("/p/demo/comments/").content.decode()
    assert "Truncated passage" in browser_client.get("/p/demo/comments/?tab=resolved").content.decode()
    event = AuditEvent.objects.get(action="comment.resolve")
    assert event.target == f"comment {comment.id} on item {first.id}"
    again = api(users["admin"]).post(f"/api/v1/comments/{comment.id}/resolve/")
    assert again.status_code == 409


def test_only_admins_of_the_comments_project_resolve_it(handed_out, users, browser_client):
    first, _ = handed_out
    api(users["ann1"]).post("/api/v1/projects/demo/comments/", {"item": first.id, "text": "Truncated"})
    comment = Comment.objects.get()
    assert api(users["reviewer"]).post(f"/api/v1/comments/{comment.id}/resolve/").status_code == 403
    assert api(users["ann1"]).post(f"/api/v1/comments/{comment.id}/resolve/").status_code == 403
    project_create(creator=users["outsider"], name="Other", slug="other")
    assert api(users["outsider"]).post(f"/api/v1/comments/{comment.id}/resolve/").status_code == 404
    token = login(browser_client, users["outsider"])
    assert browser_client.post(f"/p/other/comments/{comment.id}/resolve/", HTTP_X_CSRFTOKEN=token).status_code == 404
    assert browser_client.get("/p/demo/comments/").status_code == 404
    login(browser_client, users["reviewer"])
    assert browser_client.get("/p/demo/comments/").status_code == 403
    comment.refresh_from_db()
    assert comment.resolved_at is None


def test_the_comment_list_api_shows_annotators_their_own(handed_out, project, users):
    first, _ = handed_out
    Membership.objects.filter(user=users["ann2"]).update(role="reviewer")
    api(users["ann1"]).post("/api/v1/projects/demo/comments/", {"item": first.id, "text": "Mine"})
    api(users["ann2"]).post("/api/v1/projects/demo/comments/", {"item": first.id, "text": "A reviewer's"})
    mine = api(users["ann1"]).get("/api/v1/projects/demo/comments/").json()["results"]
    assert [row["text"] for row in mine] == ["Mine"]
    every = api(users["admin"]).get(f"/api/v1/projects/demo/comments/?item={first.id}&resolved=false").json()
    assert [row["text"] for row in every["results"]] == ["Mine", "A reviewer's"]
    assert api(users["admin"]).get("/api/v1/projects/demo/comments/?resolved=maybe").status_code == 400
    assert api(users["outsider"]).get("/api/v1/projects/demo/comments/").status_code == 404


def test_an_archived_project_takes_no_comments(handed_out, project, users):
    first, _ = handed_out
    project.archived_at = timezone.now()
    project.save()
    response = api(users["ann1"]).post("/api/v1/projects/demo/comments/", {"item": first.id, "text": "Late"})
    assert response.status_code == 409 and not Comment.objects.exists()


def test_the_item_page_shows_judgments_reviews_edits_comments_and_exclusion(project, users, make_items, browser_client):
    (item,) = make_items(project, [{"kind": "demonstration", "prompt": "Explain DNS"}])
    assignment = assignment_next(project=project, user=users["ann1"])
    annotation, _ = annotation_submit(
        assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "First try"}
    )
    annotation_edit(
        annotation_id=annotation.id, user=users["ann1"], project=project, payload={"response": "Second try"}
    )
    reviewer = Membership.objects.get(project=project, user=users["reviewer"])
    review_decide(
        membership=reviewer, annotation_id=annotation.id, decision="reject", reason="unhelpful", note="Too <i>short</i>"
    )
    api(users["ann1"]).post("/api/v1/projects/demo/comments/", {"item": item.id, "text": "Prompt <script>x</script>"})
    type(item).objects.filter(id=item.id).update(excluded_reason="Duplicate of #3")
    edit = annotation.edits.get()
    assert (edit.payload_before, edit.payload_after, edit.editor) == (
        {"response": "First try"},
        {"response": "Second try"},
        users["ann1"],
    )
    login(browser_client, users["admin"])
    page = browser_client.get(f"/p/demo/items/{item.id}/").content.decode()
    assert "Excluded from exports: Duplicate of #3" in page
    assert "- First try" in page and "+ Second try" in page  # the annotator's own edit
    assert "Reject" in page and "Too &lt;i&gt;short&lt;/i&gt;" in page
    assert "Prompt &lt;script&gt;x&lt;/script&gt;" in page and "/resolve/" in page
    assert "guidelines" in page
