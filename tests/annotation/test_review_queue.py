"""The review queue (issue 13 item 6): filters, the skip cursor, decisions swapped in by htmx, and undo."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import Conflict
from annotation.models import Annotation, Assignment, AuditEvent, Membership, Review
from annotation.review import review_decide, review_next, review_queue, review_undo
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def member(project, user):
    return Membership.objects.select_related("project", "user").get(project=project, user=user)


def written(item, user, payload):
    """An annotation of `item` by `user`, as a submit leaves it (the assignment engine's pick order aside)."""
    assignment = Assignment.objects.create(
        project=item.project, item=item, annotator=user, status="submitted", expires_at=timezone.now()
    )
    return Annotation.objects.create(
        project=item.project, item=item, assignment=assignment, annotator=user, kind=item.kind, payload=payload
    )


@pytest.fixture
def mixed(project, users, make_items):
    """Three demonstrations (two by ann1, one code task by ann2) and two refusal cases by ann1, one flagged."""
    rows = demo_rows(2, task_type="open_qa") + [{"kind": "demonstration", "prompt": "Greet", "task_type": "code"}]
    rows += [{"kind": "refusal", "prompt": f"Risky {i}", "safety": "should_comply"} for i in range(2)]
    demo1, demo2, code, plain, flagged = make_items(project, rows)
    return {
        "demo1": written(demo1, users["ann1"], {"response": "First answer"}),
        "demo2": written(demo2, users["ann1"], {"response": "Second answer"}),
        "code": written(code, users["ann2"], {"response": "print('hi')"}),
        "plain": written(plain, users["ann1"], {"response": "Sure, here is how.", "disagree": False}),
        "flagged": written(
            flagged, users["ann1"], {"response": "I won't.", "disagree": True, "disagree_reason": "Looks risky"}
        ),
    }


def ids(queue):
    return [annotation.id for annotation in queue]


def test_filters_narrow_the_queue_and_flagged_work_stays_first(project, users, mixed):
    reviewer = member(project, users["reviewer"])
    everything = [mixed[name].id for name in ("flagged", "demo1", "demo2", "code", "plain")]
    assert ids(review_queue(reviewer)) == everything
    assert ids(review_queue(reviewer, annotator="ann2")) == [mixed["code"].id]
    assert ids(review_queue(reviewer, kind="refusal")) == [mixed["flagged"].id, mixed["plain"].id]
    assert ids(review_queue(reviewer, task_type="code")) == [mixed["code"].id]
    assert ids(review_queue(reviewer, flagged=True)) == [mixed["flagged"].id]
    assert mixed["flagged"].id not in ids(review_queue(reviewer, flagged=False))
    assert ids(review_queue(reviewer, annotator="ann1", kind="demonstration")) == [mixed["demo1"].id, mixed["demo2"].id]


def test_skipping_moves_past_an_annotation_in_queue_order_and_wraps_around(project, users, mixed):
    queue = review_queue(member(project, users["reviewer"]))
    order = ids(queue)
    for position, annotation_id in enumerate(order):
        assert review_next(queue, after=annotation_id).id == order[(position + 1) % len(order)]
    assert review_next(queue, show=mixed["plain"].id).id == mixed["plain"].id
    assert review_next(queue).id == order[0]
    review_decide(membership=member(project, users["reviewer"]), annotation_id=order[1], decision="accept")
    assert review_next(queue, after=order[1]).id == order[2]  # a decided one still marks the place


def test_the_page_says_what_is_filtered_and_counts_the_filtered_queue(project, users, mixed, browser_client):
    login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/review/?annotator=ann1&kind=refusal").content.decode()
    assert 'Review: refusal cases, by ann1 <span class="muted">(2 waiting)</span>' in page
    assert "Looks risky" in page  # the flagged one first
    flagged = browser_client.get("/p/demo/review/?flagged=no&task_type=code").content.decode()
    assert "task type code, not flagged" in flagged and "(1 waiting)" in flagged and "print(&#x27;hi&#x27;)" in flagged


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=gold", "Kind: gold is not one of the choices."),
        ("annotator=nobody", "Annotator: no such member of this project."),
        ("flagged=maybe", "Flag: maybe is not one of the choices."),
        ("task_type=poetry", "Task type: poetry is not one of the choices."),
        ("after=-3", "after"),
        ("after=x", "after"),
    ],
)
def test_a_junk_filter_is_a_400_that_says_which(project, users, mixed, browser_client, query, message):
    login(browser_client, users["reviewer"])
    response = browser_client.get(f"/p/demo/review/?{query}")
    assert response.status_code == 400 and message in response.content.decode()


def test_a_decision_by_htmx_shows_the_next_one_with_a_message_undo_and_the_filters_kept(
    project, users, mixed, browser_client
):
    token = login(browser_client, users["reviewer"])
    url = "/p/demo/review/?annotator=ann1&kind=refusal"
    flagged, plain = mixed["flagged"], mixed["plain"]
    response = browser_client.post(
        url, {"annotation": flagged.id, "decision": "accept"}, HTTP_X_CSRFTOKEN=token, **HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200 and response["Vary"].count("HX-Request")
    assert page.startswith('\n<section id="review-panel"') and "<html" not in page
    assert f"Accepted annotation #{flagged.id} by ann1." in page and "Undo" in page
    assert "Sure, here is how." in page and "(1 waiting)" in page
    assert 'hx-post="/p/demo/review/?annotator=ann1&amp;kind=refusal"' in page
    assert 'hx-post="/p/demo/review/undo/?annotator=ann1&amp;kind=refusal"' in page
    rejected = browser_client.post(
        url, {"annotation": plain.id, "decision": "reject", "reason": "unhelpful"}, HTTP_X_CSRFTOKEN=token, **HTMX
    ).content.decode()
    assert f"Rejected annotation #{plain.id} by ann1 (Unhelpful or incomplete)." in rejected
    assert "Nothing waiting for review here" in rejected and "(0 waiting)" in rejected


def test_a_plain_post_redirects_to_the_message_and_the_next_one(project, users, mixed, browser_client):
    token = login(browser_client, users["reviewer"])
    first = mixed["flagged"]
    response = browser_client.post(
        "/p/demo/review/?kind=refusal", {"annotation": first.id, "decision": "accept"}, HTTP_X_CSRFTOKEN=token
    )
    review = Review.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/p/demo/review/?kind=refusal&after={first.id}&done={review.id}"
    page = browser_client.get(response["Location"]).content.decode()
    assert f"Accepted annotation #{first.id} by ann1." in page and "Sure, here is how." in page
    Review.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert "Accepted annotation" not in browser_client.get(response["Location"]).content.decode()


def test_rejecting_without_a_reason_names_the_field_and_keeps_the_note(project, users, mixed, browser_client):
    token = login(browser_client, users["reviewer"])
    annotation = mixed["flagged"]
    for extra in ({}, HTMX):
        response = browser_client.post(
            "/p/demo/review/",
            {"annotation": annotation.id, "decision": "reject", "note": "Too short"},
            HTTP_X_CSRFTOKEN=token,
            **extra,
        )
        page = response.content.decode()
        assert response.status_code == 422
        assert "Reject because: choose one of the reasons, then reject again." in page
        assert 'data-submit-with="reject" aria-invalid="true"' in page and ">Too short</textarea>" in page
    assert Annotation.objects.get(id=annotation.id).review_status == "pending"


def test_a_decision_already_made_elsewhere_shows_the_next_one_and_says_so(project, users, mixed, browser_client):
    token = login(browser_client, users["reviewer"])
    review_decide(membership=member(project, users["admin"]), annotation_id=mixed["flagged"].id, decision="accept")
    response = browser_client.post(
        "/p/demo/review/", {"annotation": mixed["flagged"].id, "decision": "accept"}, HTTP_X_CSRFTOKEN=token, **HTMX
    )
    page = response.content.decode()
    assert response.status_code == 409 and "already accepted" in page and "First answer" in page


def test_undo_restores_the_payload_before_an_edit_and_puts_it_back_in_the_queue(project, users, mixed):
    reviewer = member(project, users["reviewer"])
    annotation = mixed["demo1"]
    review = review_decide(
        membership=reviewer, annotation_id=annotation.id, decision="edit_accept", payload={"response": "Fixed answer"}
    )
    assert Annotation.objects.get(id=annotation.id).payload == {"response": "Fixed answer"}
    undone = review_undo(membership=reviewer, review_id=review.id)
    annotation.refresh_from_db()
    assert undone.id == annotation.id and annotation.review_status == "pending"
    assert annotation.payload == {"response": "First answer"}
    assert not Review.objects.filter(id=review.id).exists()
    assert annotation.id in ids(review_queue(reviewer))
    event = AuditEvent.objects.get(action="review.undo")
    assert event.actor == users["reviewer"] and event.target == f"annotation {annotation.id}"
    assert event.before["decision"] == "edit_accept" and event.before["payload"] == {"response": "Fixed answer"}
    assert event.after == {"review_status": "pending", "payload": {"response": "First answer"}}


def test_undo_is_refused_after_a_minute(project, users, mixed):
    reviewer = member(project, users["reviewer"])
    review = review_decide(membership=reviewer, annotation_id=mixed["demo1"].id, decision="accept")
    Review.objects.filter(id=review.id).update(created_at=timezone.now() - timedelta(seconds=61))
    with pytest.raises(Conflict, match="one minute"):
        review_undo(membership=reviewer, review_id=review.id)
    assert Annotation.objects.get(id=mixed["demo1"].id).review_status == "accepted"
    Review.objects.filter(id=review.id).update(created_at=timezone.now() - timedelta(seconds=50))
    Annotation.objects.filter(id=mixed["demo1"].id).update(updated_at=timezone.now() - timedelta(seconds=55))
    assert review_undo(membership=reviewer, review_id=review.id).review_status == "pending"


def test_only_the_reviewer_who_decided_may_undo_and_only_while_nothing_changed(project, users, mixed):
    reviewer, admin = member(project, users["reviewer"]), member(project, users["admin"])
    review = review_decide(membership=reviewer, annotation_id=mixed["demo2"].id, decision="reject", reason="unhelpful")
    with pytest.raises(Conflict, match="Only the reviewer who made a decision"):
        review_undo(membership=admin, review_id=review.id)
    Annotation.objects.filter(id=mixed["demo2"].id).update(
        payload={"response": "Revised by the annotator"}, review_status="pending"
    )
    with pytest.raises(Conflict, match="changed after your decision"):
        review_undo(membership=reviewer, review_id=review.id)
    later = review_decide(membership=admin, annotation_id=mixed["demo2"].id, decision="accept")
    with pytest.raises(Conflict, match="changed after your decision"):
        review_undo(membership=reviewer, review_id=review.id)
    assert Review.objects.filter(id__in=[review.id, later.id]).count() == 2
    assert not AuditEvent.objects.filter(action="review.undo").exists()


def test_undo_on_the_page_shows_the_annotation_again(project, users, mixed, browser_client):
    token = login(browser_client, users["reviewer"])
    annotation = mixed["plain"]
    browser_client.post(
        "/p/demo/review/?kind=refusal", {"annotation": annotation.id, "decision": "accept"}, HTTP_X_CSRFTOKEN=token
    )
    review = Review.objects.get()
    response = browser_client.post(
        "/p/demo/review/undo/?kind=refusal", {"review": review.id}, HTTP_X_CSRFTOKEN=token, **HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert f"Decision undone: annotation #{annotation.id} by ann1 waits for review again." in page
    assert f'name="annotation" value="{annotation.id}"' in page and "(2 waiting)" in page
    again = browser_client.post("/p/demo/review/undo/", {"review": review.id}, HTTP_X_CSRFTOKEN=token)
    assert again.status_code == 404
    review = review_decide(
        membership=member(project, users["reviewer"]), annotation_id=annotation.id, decision="accept"
    )
    plain = browser_client.post("/p/demo/review/undo/?kind=refusal", {"review": review.id}, HTTP_X_CSRFTOKEN=token)
    assert plain.status_code == 302 and plain["Location"] == f"/p/demo/review/?kind=refusal&show={annotation.id}"
    assert "waits for review again" in browser_client.get(plain["Location"]).content.decode()
    junk = browser_client.post("/p/demo/review/undo/", {"review": "soon"}, HTTP_X_CSRFTOKEN=token)
    assert junk.status_code == 400 and "Decision to undo: Enter a whole number." in junk.content.decode()


def test_an_expired_undo_on_the_page_is_a_409_with_the_reason(project, users, mixed, browser_client):
    token = login(browser_client, users["reviewer"])
    review = review_decide(
        membership=member(project, users["reviewer"]), annotation_id=mixed["demo1"].id, decision="accept"
    )
    Review.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    response = browser_client.post("/p/demo/review/undo/", {"review": review.id}, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 409 and "one minute only" in response.content.decode()
