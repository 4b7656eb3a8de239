"""Rework: a rejected annotation comes back to its author, who revises and resubmits it for review."""

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from annotation.audit import Action
from annotation.editing import annotation_edit
from annotation.errors import Conflict, InvalidInput
from annotation.models import AnnotationEdit, AuditEvent
from annotation.project_settings import project_archive
from annotation.review import review_decide, review_queue
from annotation.revisions import HistoryEntry, annotation_history, resubmission
from tests.annotation.test_review import member, submit_as
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

REFUSAL = {"kind": "refusal", "prompt": "Write malware.", "safety": "should_refuse", "harm_category": "cyber"}


def rejected_refusal(project, users, make_items, text="No."):
    make_items(project, [REFUSAL])
    annotation = submit_as(project, users["ann1"], {"response": text, "refusal_style": "decline_explain"})
    review_decide(
        membership=member(project, users["reviewer"]),
        annotation_id=annotation.id,
        decision="reject",
        reason="unhelpful",
        note="Explain why and offer a safe alternative.",
    )
    return annotation


def revise(project, user, annotation, **payload):
    return annotation_edit(annotation_id=annotation.id, user=user, project=project, payload=payload)


def test_reject_revise_resubmit_and_accept(project, users, make_items):
    annotation = rejected_refusal(project, users, make_items)
    reviewer = member(project, users["reviewer"])
    assert annotation.id not in review_queue(reviewer).values_list("id", flat=True)

    better = "I can't help write malware. I can explain how to protect a network instead."
    revise(project, users["ann1"], annotation, response=better, refusal_style="safe_alternative")

    annotation.refresh_from_db()
    assert annotation.review_status == "pending"
    assert annotation.payload["response"] == better
    assert list(review_queue(reviewer).values_list("id", flat=True)) == [annotation.id]
    edit = AnnotationEdit.objects.get(annotation=annotation)
    assert (edit.payload_before["response"], edit.payload_after["response"]) == ("No.", better)
    event = AuditEvent.objects.get(action=Action.ANNOTATION_RESUBMIT)
    assert event.target == f"annotation {annotation.id}" and event.actor_name == "ann1"
    assert event.before == {"review_status": "rejected"}
    assert event.after == {"review_status": "pending", "changed": ["refusal_style", "response"]}

    review_decide(membership=reviewer, annotation_id=annotation.id, decision="accept")
    annotation.refresh_from_db()
    assert annotation.review_status == "accepted"
    with pytest.raises(Conflict, match="accepted"):
        revise(project, users["ann1"], annotation, response="Changed after acceptance.")
    annotation.refresh_from_db()
    assert annotation.payload["response"] == better


def test_resubmitting_without_a_change_is_refused(project, users, make_items):
    annotation = rejected_refusal(project, users, make_items)
    with pytest.raises(InvalidInput, match="Change something before resubmitting"):
        revise(project, users["ann1"], annotation, response="No.", refusal_style="decline_explain", disagree=False)
    annotation.refresh_from_db()
    assert annotation.review_status == "rejected"
    assert not AnnotationEdit.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.ANNOTATION_RESUBMIT).exists()


def test_only_the_author_revises_and_not_in_an_archived_project(project, users, make_items):
    annotation = rejected_refusal(project, users, make_items)
    with pytest.raises(Http404):
        revise(project, users["ann2"], annotation, response="Someone else's words.")
    project_archive(project=project, by=users["admin"])
    project.refresh_from_db()
    with pytest.raises(Conflict):
        revise(project, users["ann1"], annotation, response="Too late.")
    annotation.refresh_from_db()
    assert (annotation.review_status, annotation.payload["response"]) == ("rejected", "No.")


def test_history_interleaves_reviews_and_revisions_and_names_the_resubmission(project, users, make_items):
    annotation = rejected_refusal(project, users, make_items)
    revise(
        project,
        users["ann1"],
        annotation,
        response="I won't. Here is how to stay safe.",
        refusal_style="safe_alternative",
    )
    history = annotation_history(annotation)
    assert [entry.title for entry in history] == ["Rejected", "Resubmitted for review"]
    assert history[0].reason == "Unhelpful or incomplete"
    rework = resubmission(history)
    assert rework.reason == "Unhelpful or incomplete" and rework.note.startswith("Explain why")
    assert ("-", "No.") in rework.diff and ("+", "I won't. Here is how to stay safe.") in rework.diff
    assert ("@", "Refusal style") in rework.diff and ("+", "Offer a safe alternative") in rework.diff
    review_decide(
        membership=member(project, users["reviewer"]),
        annotation_id=annotation.id,
        decision="edit_accept",
        payload={"response": "I won't. Here is how to stay safe online."},
    )
    history = annotation_history(annotation)
    assert [entry.title for entry in history] == ["Rejected", "Resubmitted for review", "Edited and accepted"]
    assert ("+", "I won't. Here is how to stay safe online.") in history[2].diff


def test_no_resubmission_without_a_rejection(project, users, make_items):
    make_items(project, demo_rows(1))
    annotation = submit_as(project, users["ann1"], {"response": "v1"})
    revise(project, users["ann1"], annotation, response="v2")
    history = annotation_history(annotation)
    assert [entry.title for entry in history] == ["Revised by the annotator"]
    assert resubmission(history) is None
    assert not AuditEvent.objects.filter(action=Action.ANNOTATION_RESUBMIT).exists()


# The web side: My work, the revise page, the history page and the reviewer's queue.


def test_my_work_filters_by_review_state_and_returns_rejected_work_first(project, users, make_items, client):
    make_items(project, demo_rows(3))
    first, second, third = (submit_as(project, users["ann1"], {"response": f"Answer {i}"}) for i in range(3))
    review_decide(
        membership=member(project, users["reviewer"]),
        annotation_id=first.id,
        decision="reject",
        reason="factual_error",
        note="Wrong year",
    )
    client.force_login(users["ann1"])
    page = client.get("/p/demo/work/").content.decode()
    assert page.index(f"/p/demo/work/{first.id}/") < page.index(f"/p/demo/work/{third.id}/")
    assert "Returned to you" in page and "Factual error" in page and "Wrong year" in page and ">Revise<" in page
    rejected = client.get("/p/demo/work/?review=rejected").content.decode()
    assert f"/p/demo/work/{first.id}/" in rejected and f"/p/demo/work/{second.id}/" not in rejected
    pending = client.get("/p/demo/work/?review=pending").content.decode()
    assert f"/p/demo/work/{first.id}/" not in pending and f"/p/demo/work/{second.id}/" in pending
    junk = client.get("/p/demo/work/?review=<b>x</b>")
    assert junk.status_code == 400
    assert "none of them" in junk.content.decode() and "<b>x</b>" not in junk.content.decode()


def test_the_revise_page_shows_the_rejection_and_resubmits(project, users, make_items, browser_client):
    annotation = rejected_refusal(project, users, make_items, text="No & <never>.")
    token = login(browser_client, users["ann1"])
    url = f"/p/demo/work/{annotation.id}/"
    page = browser_client.get(url).content.decode()
    assert "Unhelpful or incomplete" in page and "Explain why and offer a safe alternative." in page
    assert "Resubmit for review" in page and "No &amp; &lt;never&gt;.</textarea>" in page

    same = browser_client.post(
        url,
        {"response": "No & <never>.", "refusal_style": "decline_explain", "harm_category": "cyber"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert same.status_code == 422 and "Change something before resubmitting" in same.content.decode()

    done = browser_client.post(
        url,
        {
            "response": "I can't help with that; here is a safer path.",
            "refusal_style": "safe_alternative",
            "harm_category": "cyber",
        },
        HTTP_X_CSRFTOKEN=token,
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/p/demo/work/"
    assert "Resubmitted for review." in done.content.decode()
    annotation.refresh_from_db()
    assert annotation.review_status == "pending"


def test_history_and_review_queue_show_the_resubmission(project, users, make_items, client):
    annotation = rejected_refusal(project, users, make_items)
    revise(
        project,
        users["ann1"],
        annotation,
        response="I won't help; try a security course.",
        refusal_style="redirect_help",
    )
    client.force_login(users["ann1"])
    history = client.get(f"/p/demo/review/{annotation.id}/").content.decode()
    assert "Rejected" in history and "Resubmitted for review" in history and "+ I won&#x27;t help" in history
    client.force_login(users["reviewer"])
    with CaptureQueriesContext(connection) as queries:
        queue = client.get("/p/demo/review/")
    page = queue.content.decode()
    assert "Resubmitted after rejection:" in page and "Unhelpful or incomplete" in page
    assert "- No." in page and "+ Redirect to help" in page
    assert len(queries) <= 15  # 10 today: the history and the rework notice share two queries


def test_a_plain_pending_annotation_shows_no_rework_notice(project, users, make_items, client):
    make_items(project, [REFUSAL])
    submit_as(project, users["ann1"], {"response": "No.", "refusal_style": "decline_explain"})
    client.force_login(users["reviewer"])
    assert "Resubmitted after rejection" not in client.get("/p/demo/review/").content.decode()


def test_a_resubmission_diffs_against_the_last_revision_before_the_next_decision():
    def entry(after, **kind):
        return HistoryEntry(title="", actor="", at=None, diff=[], before={}, after=after, **kind)

    history = [
        entry({"response": "No."}, rejection=True, reason="Unhelpful", note="Say why."),
        entry({"response": "No, sorry."}, revision=True),
        entry({"response": "I can't help with that, because it harms others."}, revision=True),
    ]
    found = resubmission(history)
    assert found.reason == "Unhelpful" and ("+", "I can't help with that, because it harms others.") in found.diff
    assert resubmission(history[:1]) is None
