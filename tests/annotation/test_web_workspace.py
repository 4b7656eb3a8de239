import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.assignment import assignment_next
from annotation.models import Annotation, Assignment, Draft
from tests.conftest import api_key, demo_rows, login

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


def test_a_refused_submit_keeps_the_posted_text_as_the_newest_draft(project, users, make_items, browser_client):
    make_items(project, demo_rows(1, kind="refusal", safety="should_refuse", harm_category="cyber"))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    url = f"/p/demo/annotate/{assignment.id}/"
    assert post(browser_client, token, url + "draft/", {"response": "An older draft"}).json()["version"] == 1
    data = {"client_id": str(uuid.uuid4()), "response": "The newest text", "draft_version": "1"}
    refused = post(browser_client, token, url + "submit/", data)
    assert refused.status_code == 422
    draft = Draft.objects.get()
    assert draft.payload["response"] == "The newest text" and draft.version == 2
    assert f'name="draft_version" value="{draft.version}"' in refused.content.decode()
    assert (
        post(browser_client, token, url + "draft/", {"response": "typed on", "draft_version": "2"}).status_code == 200
    )
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert ">typed on</textarea>" in page


def test_a_stale_tabs_submit_is_refused_and_leaves_the_newer_draft(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    url = f"/p/demo/annotate/{assignment.id}/"
    assert post(browser_client, token, url + "draft/", {"response": "Tab one"}).json()["version"] == 1
    assert post(browser_client, token, url + "draft/", {"response": "Tab two"}).status_code == 409
    newer = post(browser_client, token, url + "draft/", {"response": "Tab one, newer", "draft_version": "1"})
    assert newer.status_code == 200
    tab_two = {"client_id": str(uuid.uuid4()), "response": "Tab two, older", "draft_version": ""}
    refused = post(browser_client, token, url + "submit/", tab_two)
    page = refused.content.decode()
    assert refused.status_code == 409 and "changed in another tab or device" in page and "Reload" in page
    assert ">Tab two, older</textarea>" in page and 'name="draft_version" value=""' in page
    assert not Annotation.objects.exists()
    draft = Draft.objects.get()
    assert (draft.payload["response"], draft.version) == ("Tab one, newer", 2)
    tab_one = {"client_id": str(uuid.uuid4()), "response": "Tab one, newer", "draft_version": "2"}
    assert post(browser_client, token, url + "submit/", tab_one).status_code == 200
    assert Annotation.objects.get().payload == {"response": "Tab one, newer"}
    late = post(browser_client, token, url + "submit/", tab_two | {"client_id": str(uuid.uuid4())})
    notice = late.content.decode()
    assert late.status_code == 409 and "already submitted from another tab or device" in notice
    assert "was not saved" in notice and "another client_id" not in notice
    same_key = post(browser_client, token, url + "submit/", tab_two | {"client_id": tab_one["client_id"]})
    assert same_key.status_code == 409 and "already submitted from another tab or device" in same_key.content.decode()
    assert Annotation.objects.get().payload == {"response": "Tab one, newer"}
    assert post(browser_client, token, url + "submit/", tab_one).status_code == 200  # a retry of the accepted submit


def test_an_empty_follow_up_reply_is_named_under_the_turns(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    data = {"client_id": str(uuid.uuid4()), "response": "Answer", "turn_user": "And then?", "turn_assistant": ""}
    refused = post(browser_client, token, f"/p/demo/annotate/{assignment.id}/submit/", data)
    assert refused.status_code == 422
    assert "Follow-up 1, the assistant reply: must not be blank" in refused.content.decode()
    assert "Not submitted: your text is kept as a draft" in refused.content.decode()
    assert "Draft restored" not in refused.content.decode()


def test_an_expired_session_gets_a_401_it_can_show_not_the_login_page(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    browser_client.session.flush()
    browser_client.cookies.pop("sessionid")
    draft = browser_client.post(
        f"/p/demo/annotate/{assignment.id}/draft/",
        {"response": "x"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_ACCEPT="application/json",
    )
    assert draft.status_code == 401 and "session has expired" in draft.json()["detail"]
    data = {"client_id": str(uuid.uuid4()), "response": "x"}
    submit = post(browser_client, token, f"/p/demo/annotate/{assignment.id}/submit/", data)
    assert submit.status_code == 401 and "session has expired" in submit.content.decode()
    assert "<form" not in submit.content.decode()
    page = browser_client.get("/p/demo/annotate/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")


def test_a_request_with_no_csrf_cookie_left_is_told_to_log_in_again(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    browser_client.cookies.clear()
    url = f"/p/demo/annotate/{assignment.id}/draft/"
    draft = browser_client.post(url, {"response": "x"}, HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json")
    assert draft.status_code == 403
    assert "security token has expired" in draft.json()["detail"] and draft.json()["login_url"] == "/login/"
    data = {"client_id": str(uuid.uuid4()), "response": "x"}
    submit = post(browser_client, token, f"/p/demo/annotate/{assignment.id}/submit/", data)
    assert submit.status_code == 403 and submit.json()["login_url"] == "/login/"
    plain = browser_client.post(f"/p/demo/annotate/{assignment.id}/submit/", data)
    assert plain.status_code == 403 and "login_url" not in plain.content.decode()
    assert not Draft.objects.exists() and not Annotation.objects.exists()


def test_typing_keeps_the_lease_alive_up_to_a_cap(project, users, make_items, browser_client):
    from annotation.drafts import MAX_LEASE_HOLD

    make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    url = f"/p/demo/annotate/{assignment.id}/draft/"
    soon = timezone.now() + timedelta(seconds=5)
    Assignment.objects.filter(id=assignment.id).update(expires_at=soon)
    post(browser_client, token, url, {"response": "still typing"})
    renewed = Assignment.objects.get(id=assignment.id).expires_at
    assert renewed >= timezone.now() + timedelta(seconds=project.lease_seconds - 5)
    handed_out = timezone.now() - MAX_LEASE_HOLD + timedelta(seconds=30)
    Assignment.objects.filter(id=assignment.id).update(created_at=handed_out, expires_at=soon)
    post(browser_client, token, url, {"response": "typing for hours", "draft_version": "1"})
    assert Assignment.objects.get(id=assignment.id).expires_at == handed_out + MAX_LEASE_HOLD


def test_a_draft_whose_lease_ran_out_is_offered_back(project, users, make_items, browser_client):
    make_items(project, demo_rows(3))
    token = login(browser_client, users["ann1"])
    assignment = current(project, users["ann1"])
    post(browser_client, token, f"/p/demo/annotate/{assignment.id}/draft/", {"response": "Half an answer"})
    Assignment.objects.filter(id=assignment.id).update(expires_at=timezone.now() - timedelta(minutes=1))
    current(project, users["ann2"])  # someone else's request reclaims the lapsed lease
    assert Assignment.objects.get(id=assignment.id).status == "expired"
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert ">Half an answer</textarea>" in page and "your draft is back" in page
    resumed = Assignment.objects.get(id=assignment.id)
    assert resumed.status == "active" and resumed.expires_at > timezone.now()
    assert Assignment.objects.filter(annotator=users["ann1"]).count() == 1
    data = {"client_id": str(uuid.uuid4()), "response": "Half an answer, finished"}
    post(browser_client, token, f"/p/demo/annotate/{assignment.id}/submit/", data)
    assert Annotation.objects.get().payload["response"] == "Half an answer, finished"


def lapse(assignment, other_user):
    """Let the lease run out, and let another annotator's request reclaim it."""
    Assignment.objects.filter(id=assignment.id).update(expires_at=timezone.now() - timedelta(minutes=1))
    current(assignment.project, other_user)
    assert Assignment.objects.get(id=assignment.id).status == "expired"


def test_the_api_offers_a_lapsed_draft_back_before_a_new_item(project, users, make_items):
    from rest_framework.test import APIClient

    make_items(project, demo_rows(3))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['ann1'])}")
    first = api.post("/api/v1/projects/demo/assignments/next/").json()
    saved = api.put(f"/api/v1/assignments/{first['id']}/draft/", {"payload": {"response": "Half"}}, format="json")
    assert saved.status_code == 200
    lapse(Assignment.objects.get(id=first["id"]), users["ann2"])
    again = api.post("/api/v1/projects/demo/assignments/next/").json()
    assert (
        again["id"] == first["id"] and again["status"] == "active" and again["draft"]["payload"]["response"] == "Half"
    )
    assert Assignment.objects.filter(annotator=users["ann1"]).count() == 1
    body = {"client_id": str(uuid.uuid4()), "payload": {"response": "Half, then whole"}}
    assert api.post(f"/api/v1/assignments/{first['id']}/submit/", body, format="json").status_code == 201


def test_a_lapsed_draft_whose_item_filled_up_is_passed_over(project, users, make_items):
    project.overlap = 1
    project.save()
    make_items(project, demo_rows(2))
    assignment = current(project, users["ann1"])
    Draft.objects.create(assignment=assignment, payload={"response": "Too late"})
    lapse(assignment, users["ann2"])  # ann2 now holds the only slot of the same item
    assert Assignment.objects.get(annotator=users["ann2"]).item_id == assignment.item_id
    fresh = current(project, users["ann1"])
    assert fresh.id != assignment.id and not fresh.resumed
    assert Assignment.objects.get(id=assignment.id).status == "expired"


def test_the_next_task_after_a_web_submit_is_the_lapsed_draft(project, users, make_items, browser_client):
    from annotation.models import Item

    make_items(project, demo_rows(3))
    token = login(browser_client, users["ann1"])
    drafted = current(project, users["ann1"])
    post(browser_client, token, f"/p/demo/annotate/{drafted.id}/draft/", {"response": "Half an answer"})
    lapse(drafted, users["ann2"])
    Item.objects.filter(id=drafted.item_id).update(open_slots=0)
    other = current(project, users["ann1"])  # while the drafted item was full
    Item.objects.filter(id=drafted.item_id).update(open_slots=1)
    response = submit_answer(browser_client, token, other, "Done")
    body = response.content.decode()
    assert ">Half an answer</textarea>" in body and "Submitted. Your lease on this item had run out" in body
    assert Assignment.objects.get(id=drafted.id).status == "active"
