import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.assignment import assignment_next
from annotation.models import Annotation, Assignment, Draft
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def post(client, token, url, data, htmx=True):
    return client.post(url, data, HTTP_X_CSRFTOKEN=token, **(HTMX if htmx else {}))


def submit_answer(client, token, assignment, response):
    data = {"client_id": str(uuid.uuid4()), "response": response}
    return post(client, token, f"/p/demo/annotate/{assignment.id}/submit/", data)


def current(project, user):
    return assignment_next(project=project, user=user)


def test_the_annotate_page_shows_one_task_and_its_guidelines(project, users, make_items, browser_client):
    project.guidelines = "# Be *kind*\n\n<script>alert(1)</script>"
    project.save()
    make_items(project, demo_rows(2))
    login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert "Prompt number 0" in page and "Prompt number 1" not in page
    assert "<em>kind</em>" in page and "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_submit_swaps_in_the_next_task(project, users, make_items, browser_client):
    make_items(project, demo_rows(2))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    url = f"/p/demo/annotate/{assignment.id}/submit/"
    data = {"client_id": str(uuid.uuid4()), "response": "My answer", "time_spent_ms": "4200"}
    response = post(browser_client, token, url, data)
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="task"') and "<html" not in body
    assert "Prompt number 1" in body and "Submitted." in body
    annotation = Annotation.objects.get()
    assert annotation.payload == {"response": "My answer"} and annotation.time_spent_ms == 4200
    again = post(browser_client, token, url, data)
    assert again.status_code == 200 and Annotation.objects.count() == 1


def test_a_plain_form_post_works_without_javascript(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    data = {"client_id": str(uuid.uuid4()), "response": "No JS"}
    response = post(browser_client, token, f"/p/demo/annotate/{assignment.id}/submit/", data, htmx=False)
    assert response.status_code == 302 and response["Location"] == "/p/demo/annotate/"


def test_htmx_posts_need_the_csrf_token(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    data = {"client_id": str(uuid.uuid4()), "response": "x"}
    for path in ["submit", "skip", "draft", "hints"]:
        response = browser_client.post(f"/p/demo/annotate/{assignment.id}/{path}/", data, **HTMX)
        assert response.status_code == 403, path
    assert Annotation.objects.count() == 0


def test_a_bad_submit_keeps_the_text_and_marks_the_field(project, users, make_items, browser_client):
    make_items(project, demo_rows(1, kind="refusal", safety="should_refuse", harm_category="cyber"))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    data = {"client_id": str(uuid.uuid4()), "response": "I won't help with <that>."}
    response = post(browser_client, token, f"/p/demo/annotate/{assignment.id}/submit/", data)
    assert response.status_code == 422
    body = response.content.decode()
    assert "I won&#x27;t help with &lt;that&gt;." in body
    assert "is required: one of decline_explain" in body
    assert Annotation.objects.count() == 0


def test_pairwise_sides_map_to_the_responses_shown(project, users, make_items, browser_client):
    make_items(project, demo_rows(1, kind="preference", responses=[{"text": "first"}, {"text": "second"}]))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    left, right = assignment.response_order
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert page.index(["first", "second"][left]) < page.index(["first", "second"][right])
    data = {
        "client_id": str(uuid.uuid4()),
        "choice": "right",
        "strength": "clear",
        "criterion_honesty": "left",
        "criterion_helpfulness": "tie",
        "all_unacceptable": "on",
        "better_response": "third",
    }
    post(browser_client, token, f"/p/demo/annotate/{assignment.id}/submit/", data)
    assert Annotation.objects.get().payload == {
        "choice": right,
        "strength": "clear",
        "criteria": {"honesty": left, "helpfulness": "tie"},
        "all_unacceptable": True,
        "better_response": "third",
    }


def test_a_lost_lease_says_so_and_keeps_the_text(project, users, make_items, browser_client):
    project.overlap = 1
    project.save()
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    lost = current(project, users["ann1"])
    Assignment.objects.filter(id=lost.id).update(expires_at=timezone.now() - timedelta(minutes=1))
    taken = current(project, users["ann2"])
    from annotation.assignment import annotation_submit

    annotation_submit(assignment_id=taken.id, user=users["ann2"], client_id=uuid.uuid4(), payload={"response": "x"})
    data = {"client_id": str(uuid.uuid4()), "response": "My careful, long answer"}
    response = post(browser_client, token, f"/p/demo/annotate/{lost.id}/submit/", data)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Your lease on this item expired" in body and "My careful, long answer" in body


def test_skip_takes_a_reason_and_moves_on(project, users, make_items, browser_client):
    make_items(project, demo_rows(2))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    response = post(
        browser_client,
        token,
        f"/p/demo/annotate/{assignment.id}/skip/",
        {"reason": "other", "other_reason": "Typo-ridden"},
    )
    assert "Skipped." in response.content.decode()
    assert Assignment.objects.get(id=assignment.id).skip_reason == "Typo-ridden"
    empty = post(browser_client, token, f"/p/demo/annotate/{assignment.id}/skip/", {"reason": "other"})
    assert empty.status_code == 422


def test_autosave_keeps_versions_and_refuses_stale_writes(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    url = f"/p/demo/annotate/{assignment.id}/draft/"
    first = post(browser_client, token, url, {"response": "one", "turn_user": "more?", "turn_assistant": "yes"})
    assert first.json()["version"] == 1
    assert post(browser_client, token, url, {"response": "two", "draft_version": "1"}).json()["version"] == 2
    stale = post(browser_client, token, url, {"response": "old tab", "draft_version": "1"})
    assert stale.status_code == 409 and "another tab" in stale.json()["detail"]
    assert Draft.objects.get().payload["response"] == "two"
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert ">two</textarea>" in page and "Draft restored" in page


def test_guidance_warns_about_refusals_to_prompts_that_should_be_answered(project, users, make_items, browser_client):
    make_items(project, demo_rows(1, kind="refusal", safety="should_comply"))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    hints = post(
        browser_client, token, f"/p/demo/annotate/{assignment.id}/hints/", {"response": "I'm sorry, but I can't help."}
    )
    assert "reads as a refusal" in hints.content.decode()


def test_preview_renders_sanitised_markdown(project, users, browser_client):
    token = login(browser_client, users["ann1"])
    text = "**bold** <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    html = post(browser_client, token, "/p/demo/preview/", {"field": "response", "response": text}).content.decode()
    assert "<strong>bold</strong>" in html and "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html


def test_my_work_lists_and_edits_until_reviewed(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    submit_answer(browser_client, token, assignment, "v1")
    annotation = Annotation.objects.get()
    listing = browser_client.get("/p/demo/work/").content.decode()
    assert "Prompt number 0" in listing and f"/p/demo/work/{annotation.id}/" in listing
    invalid = {"response": "", "turn_user": "And then?", "turn_assistant": "More."}
    kept = post(browser_client, token, f"/p/demo/work/{annotation.id}/", invalid, htmx=False).content.decode()
    assert "is required" in kept and "And then?" in kept  # a refused edit keeps every field, follow-up turns too
    edited = post(browser_client, token, f"/p/demo/work/{annotation.id}/", {"response": "v2"}, htmx=False)
    assert edited.status_code == 302
    annotation.refresh_from_db()
    assert annotation.payload == {"response": "v2"}
    Annotation.objects.update(review_status="accepted")
    refused = post(browser_client, token, f"/p/demo/work/{annotation.id}/", {"response": "v3"}, htmx=False)
    assert "can no longer change" in refused.content.decode()
    annotation.refresh_from_db()
    assert annotation.payload == {"response": "v2"}


def test_my_projects_shows_progress(project, users, make_items, browser_client):
    make_items(project, demo_rows(3))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    submit_answer(browser_client, token, assignment, "x")
    from annotation.selectors import my_progress

    (row,) = my_progress(users["ann1"])
    assert (row["done_today"], row["done_total"], row["left"]) == (1, 1, 2)
    assert "Demo" in browser_client.get("/").content.decode()
