import uuid

import pytest
from django.http import Http404

from annotation.assignment import annotation_submit, assignment_next
from annotation.errors import Conflict, InvalidInput
from annotation.item_validation import RANKED_GOLD, gold_errors
from annotation.models import Adjudication, Annotation, Item, Membership
from annotation.payload_display import readable_diff
from annotation.payloads import validate_payload
from annotation.review import (
    adjudicate,
    gold_from_adjudication,
    item_set_gold,
    review_decide,
    review_queue,
)
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db


def submit_as(project, user, payload):
    assignment = assignment_next(project=project, user=user)
    annotation, _ = annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)
    return annotation


def member(project, user):
    return Membership.objects.select_related("project", "user").get(project=project, user=user)


def test_the_queue_puts_flagged_work_first_and_never_shows_your_own(project, users, make_items):
    make_items(project, demo_rows(2, kind="refusal", safety="should_comply"))
    plain = submit_as(project, users["ann1"], {"response": "Sure."})
    flagged = submit_as(project, users["ann1"], {"response": "No.", "disagree": True, "disagree_reason": "Risky"})
    mine = submit_as(project, users["reviewer"], {"response": "Mine"})
    queue = list(review_queue(member(project, users["reviewer"])))
    assert [a.id for a in queue] == [flagged.id, plain.id]
    with pytest.raises(Conflict, match="own work"):
        review_decide(membership=member(project, users["reviewer"]), annotation_id=mine.id, decision="accept")


def test_accept_reject_and_edit_keep_a_history(project, users, make_items):
    make_items(project, demo_rows(3))
    reviewer = member(project, users["reviewer"])
    first, second, third = (submit_as(project, users["ann1"], {"response": f"Answer {i}"}) for i in range(3))
    review_decide(membership=reviewer, annotation_id=first.id, decision="accept")
    with pytest.raises(InvalidInput, match="reason"):
        review_decide(membership=reviewer, annotation_id=second.id, decision="reject")
    review_decide(
        membership=reviewer, annotation_id=second.id, decision="reject", reason="factual_error", note="Wrong year"
    )
    edit = review_decide(
        membership=reviewer, annotation_id=third.id, decision="edit_accept", payload={"response": "Answer 2, fixed"}
    )
    assert {a.id: a.review_status for a in Annotation.objects.all()} == {
        first.id: "accepted",
        second.id: "rejected",
        third.id: "accepted",
    }
    assert Annotation.objects.get(id=third.id).payload == {"response": "Answer 2, fixed"}
    assert (edit.payload_before, edit.payload_after) == ({"response": "Answer 2"}, {"response": "Answer 2, fixed"})
    assert ("-", "Answer 2") in readable_diff(edit.payload_before, edit.payload_after)
    with pytest.raises(Conflict, match="already accepted"):
        review_decide(membership=reviewer, annotation_id=first.id, decision="reject", reason="other")


def test_the_annotator_sees_the_decision_and_reason(project, users, make_items, browser_client):
    make_items(project, demo_rows(1))
    annotation = submit_as(project, users["ann1"], {"response": "An answer"})
    review_decide(
        membership=member(project, users["reviewer"]),
        annotation_id=annotation.id,
        decision="reject",
        reason="unhelpful",
        note="Too vague",
    )
    login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/work/").content.decode()
    assert "rejected" in page and "Unhelpful or incomplete" in page and "Too vague" in page
    history = browser_client.get(f"/p/demo/review/{annotation.id}/").content.decode()
    assert "Too vague" in history


def test_reviewing_in_the_browser_moves_through_the_queue(project, users, make_items, browser_client):
    make_items(project, demo_rows(2))
    for _ in range(2):
        submit_as(project, users["ann1"], {"response": "Original answer"})
    token = login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/review/").content.decode()
    first = Annotation.objects.order_by("id").first()
    assert "Original answer" in page and "(2 waiting)" in page
    response = browser_client.post(
        "/p/demo/review/",
        {"annotation": first.id, "decision": "edit_accept", "response": "Better answer"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 302
    assert "(1 waiting)" in browser_client.get("/p/demo/review/").content.decode()
    first.refresh_from_db()
    assert first.payload["response"] == "Better answer" and first.review_status == "accepted"


def test_adjudication_and_gold(project, users, make_items):
    (item,) = make_items(project, demo_rows(1, kind="preference", responses=[{"text": "a"}, {"text": "b"}]))
    admin = member(project, users["admin"])
    with pytest.raises(Conflict, match="Adjudicate"):
        gold_from_adjudication(membership=admin, item_id=item.id)
    with pytest.raises(InvalidInput):
        adjudicate(membership=admin, item_id=item.id, choice=1)
    adjudicate(membership=admin, item_id=item.id, choice=1, strength="clear", rationale="b is right")
    adjudicate(membership=admin, item_id=item.id, choice="tie")
    assert Adjudication.objects.get().choice == "tie"
    gold = gold_from_adjudication(membership=admin, item_id=item.id)
    assert gold.is_gold and gold.gold == {"choice": "tie"} and not Item.objects.get().in_pool
    with pytest.raises(InvalidInput):
        item_set_gold(membership=admin, item_id=item.id, gold={"choice": 7})
    assert not item_set_gold(membership=admin, item_id=item.id, gold=None).is_gold


def test_admins_set_gold_answers_on_the_item_page(project, users, make_items, browser_client):
    (item,) = make_items(project, demo_rows(1))
    login(browser_client, users["reviewer"])
    assert browser_client.get(f"/p/demo/items/{item.id}/").status_code == 200
    token = browser_client.cookies["csrftoken"].value
    assert (
        browser_client.post(f"/p/demo/items/{item.id}/", {"response": "x"}, HTTP_X_CSRFTOKEN=token).status_code == 403
    )
    token = login(browser_client, users["admin"])
    browser_client.post(f"/p/demo/items/{item.id}/", {"response": "The expected answer"}, HTTP_X_CSRFTOKEN=token)
    item.refresh_from_db()
    assert item.is_gold and item.gold == {"response": "The expected answer"}


def test_a_better_response_waits_in_the_review_queue_like_any_writing(project, users, make_items, browser_client):
    make_items(project, demo_rows(2, kind="preference", responses=[{"text": "first"}, {"text": "second"}]))
    plain = submit_as(project, users["ann1"], {"choice": 0, "strength": "clear"})
    written = submit_as(project, users["ann1"], {"choice": 1, "strength": "slight", "better_response": "Mine is best"})
    reviewer = member(project, users["reviewer"])
    assert [a.id for a in review_queue(reviewer)] == [written.id]
    token = login(browser_client, users["reviewer"])
    page = browser_client.get("/p/demo/review/").content.decode()
    assert "Mine is best" in page and "second" in page and 'name="better_response"' in page
    with pytest.raises(InvalidInput, match="better response"):
        review_decide(membership=reviewer, annotation_id=written.id, decision="edit_accept", payload={"choice": 0})
    response = browser_client.post(
        "/p/demo/review/",
        {"annotation": written.id, "decision": "edit_accept", "better_response": "Mine is best, fixed"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 302
    written.refresh_from_db()
    assert written.review_status == "accepted"
    assert written.payload == {"choice": 1, "strength": "slight", "better_response": "Mine is best, fixed"}
    with pytest.raises(Http404):
        review_decide(membership=reviewer, annotation_id=plain.id, decision="accept")


def test_one_strength_rule_for_annotators_and_adjudicators(project, users, make_items):
    (item,) = make_items(project, demo_rows(1, kind="preference", responses=[{"text": "a"}, {"text": "b"}]))
    for payload in ({"choice": "tie"}, {"choice": "tie", "strength": ""}, {"choice": 0, "strength": "clear"}):
        assert validate_payload(item=item, project=project, payload=payload) == payload
    for payload in ({"choice": "tie", "strength": "clear"}, {"choice": 0}, {"choice": 0, "strength": ""}):
        with pytest.raises(InvalidInput) as caught:
            validate_payload(item=item, project=project, payload=payload)
        assert caught.value.field == "payload.strength"
    admin = member(project, users["admin"])
    with pytest.raises(InvalidInput) as caught:
        adjudicate(membership=admin, item_id=item.id, choice="tie", strength="clear")
    assert caught.value.field == "strength" and not Adjudication.objects.exists()
    with pytest.raises(InvalidInput):
        adjudicate(membership=admin, item_id=item.id, choice=1, strength="")
    assert adjudicate(membership=admin, item_id=item.id, choice="tie", strength="").strength == ""
    assert submit_as(project, users["ann1"], {"choice": "tie", "strength": ""}).preference_score == 0


THREE = [{"text": "one"}, {"text": "two"}, {"text": "three"}]


def test_a_ranked_item_is_adjudicated_with_a_full_ranking(project, users, make_items):
    (item,) = make_items(project, demo_rows(1, kind="preference", responses=THREE))
    reviewer = member(project, users["reviewer"])
    for choice, strength, field, message in [
        (1, "clear", "choice", "must be a list of tiers"),
        ("tie", "", "choice", "must be a list of tiers"),
        ([[2], [0]], "", "choice", "leaves out response 1"),
        ([[2], [0, 1, 7]], "", "choice[1]", "response ids from 0 to 2"),
        ([[2], [0, 1]], "clear", "strength", "does not apply to a ranking"),
    ]:
        with pytest.raises(InvalidInput, match=message) as refused:
            adjudicate(membership=reviewer, item_id=item.id, choice=choice, strength=strength)
        assert refused.value.field == field
    assert not Adjudication.objects.exists()
    adjudicate(membership=reviewer, item_id=item.id, choice=[[2], [0, 1]], strength="", rationale="three is best")
    assert (Adjudication.objects.get().choice, Adjudication.objects.get().strength) == ([[2], [0, 1]], "")
    adjudicate(membership=reviewer, item_id=item.id, choice=[[0, 1, 2]], strength=None)
    assert (Adjudication.objects.get().choice, Adjudication.objects.get().strength) == ([[0, 1, 2]], "")


def test_a_ranked_item_cannot_become_gold_on_any_surface(project, users, make_items):
    (item,) = make_items(project, demo_rows(1, kind="preference", responses=THREE))
    admin = member(project, users["admin"])
    adjudicate(membership=admin, item_id=item.id, choice=[[2], [0, 1]])
    for promote in [
        lambda: gold_from_adjudication(membership=admin, item_id=item.id),
        lambda: item_set_gold(membership=admin, item_id=item.id, gold={"choice": 2}),
    ]:
        with pytest.raises(InvalidInput, match="gold accuracy scores A/B judgments only"):
            promote()
    assert not Item.objects.get().is_gold
    assert gold_errors("preference", {"choice": 0}, THREE) == [("gold", RANKED_GOLD)]  # imports check it too


def test_the_adjudication_page_ranks_a_ranked_item(project, users, make_items, browser_client):
    (item,) = make_items(project, demo_rows(1, kind="preference", responses=THREE))
    token = login(browser_client, users["admin"])
    url = f"/p/demo/quality/disputes/{item.id}/"
    page = browser_client.get(url).content.decode()
    assert 'name="rank_2"' in page and 'name="strength"' not in page and "Promote to gold" not in page
    refused = browser_client.post(url, {"rank_0": "1", "rank_1": "²"}, HTTP_X_CSRFTOKEN=token)
    body = refused.content.decode()
    assert refused.status_code == 422 and "choice leaves out response 1, 2" in body and 'id="ranking-error"' in body
    assert not Adjudication.objects.exists()
    saved = browser_client.post(url, {"rank_0": "2", "rank_1": "1", "rank_2": "2"}, HTTP_X_CSRFTOKEN=token)
    assert saved.status_code == 200 and Adjudication.objects.get().choice == [[1], [0, 2]]
    assert '<option value="1" selected>1</option>' in browser_client.get(url).content.decode()
    gold = browser_client.post(url, {"action": "gold"}, HTTP_X_CSRFTOKEN=token)
    assert gold.status_code == 422 and "gold accuracy scores A/B judgments only" in gold.content.decode()
