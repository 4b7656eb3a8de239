"""Preference items with three to eight responses are ranked (ties allowed); nothing a judgment says is dropped."""

import importlib
import uuid

import numpy as np
import pytest
from django.apps import apps as django_apps

from annotation.assignment import annotation_submit, assignment_next
from annotation.errors import InvalidInput
from annotation.metrics.project import pairwise_metrics
from annotation.metrics.ranking import kendall_w, pairwise_alpha, ranking_metrics
from annotation.models import Annotation, Membership
from annotation.payloads import pair_votes, preference_columns, validate_payload
from tests.annotation.test_api import client_for
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db

THREE = [{"text": "alpha"}, {"text": "bravo"}, {"text": "charlie"}]


@pytest.fixture
def three(project, make_items):
    (item,) = make_items(project, demo_rows(1, kind="preference", responses=THREE))
    return item


def refusal(item, project, payload) -> list[dict]:
    with pytest.raises(InvalidInput) as caught:
        validate_payload(item=item, project=project, payload=payload)
    return caught.value.errors


def test_it_refuses_a_choice_on_a_three_response_item(project, users, three):
    """The report: a vote for response 3 was stored with no score and silently left out of agreement and DPO."""
    client = client_for(users["ann1"])
    assignment = client.post("/api/v1/projects/demo/assignments/next/").json()
    url = f"/api/v1/assignments/{assignment['id']}/submit/"
    vote = client.post(url, {"client_id": str(uuid.uuid4()), "payload": {"choice": 2, "strength": "clear"}}, "json")
    assert vote.status_code == 400
    fields = {error["field"] for error in vote.json()["errors"]}
    assert {"payload.choice", "payload.ranking"} <= fields and "rank them" in vote.json()["detail"]
    assert not Annotation.objects.exists()
    ranked = client.post(url, {"client_id": str(uuid.uuid4()), "payload": {"ranking": [[2], [0, 1]]}}, "json")
    assert ranked.status_code == 201
    stored = Annotation.objects.get()
    assert stored.payload == {"ranking": [[2], [0, 1]]} and stored.preference_score is None


def test_it_accepts_rankings_with_ties_and_names_what_is_wrong(project, three):
    for ranking in ([[0], [1], [2]], [[2, 0, 1]], [[1, 2], [0]]):
        assert validate_payload(item=three, project=project, payload={"ranking": ranking})["ranking"] == ranking
    cases = [
        ({}, "payload.ranking", "is required"),
        ({"ranking": "2,0,1"}, "payload.ranking", "list of tiers"),
        ({"ranking": []}, "payload.ranking", "list of tiers"),
        ({"ranking": [[0, 1]]}, "payload.ranking", "leaves out response 2"),
        ({"ranking": [[0, 1], [1, 2]]}, "payload.ranking", "response 1 more than once"),
        ({"ranking": [[0], [], [1, 2]]}, "payload.ranking[1]", "non-empty list"),
        ({"ranking": [[0], [3], [1, 2]]}, "payload.ranking[1]", "from 0 to 2"),
        ({"ranking": [[True], [0, 1, 2]]}, "payload.ranking[0]", "response ids"),
        ({"ranking": [[0, 1, 2]], "criteria": {"honesty": 0}}, "payload.criteria", "does not apply"),
    ]
    for payload, field, message in cases:
        errors = refusal(three, project, payload)
        assert any(e["field"] == field and message in e["message"] for e in errors), (payload, errors)


def test_two_response_items_stay_a_choice(project, make_items):
    (pair,) = make_items(project, demo_rows(1, kind="preference", responses=THREE[:2]))
    errors = refusal(pair, project, {"choice": 0, "strength": "clear", "ranking": [[0], [1]]})
    assert [e["field"] for e in errors] == ["payload.ranking"]
    columns = preference_columns(item=pair, payload={"choice": 1, "strength": "strong"}, response_order=[1, 0])
    assert columns == {"preference_score": -3, "shown_first": 1}


def test_every_pair_a_judgment_implies():
    assert pair_votes({"ranking": [[2], [0, 1]]}, 3) == {(0, 1): 0, (0, 2): -1, (1, 2): -1}
    assert pair_votes({"ranking": [[1], [2], [0]]}, 3) == {(0, 1): -1, (0, 2): -1, (1, 2): 1}
    # A choice stored before rankings: the chosen one above the rest, which share a place.
    assert pair_votes({"choice": 2, "strength": "clear"}, 3) == pair_votes({"ranking": [[2], [0, 1]]}, 3)
    assert pair_votes({"choice": "tie"}, 3) == {(0, 1): 0, (0, 2): 0, (1, 2): 0}


def test_the_workspace_ranks_in_the_order_shown(project, users, three, browser_client):
    token = login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    order = assignment.response_order
    page = browser_client.get("/p/demo/annotate/").content.decode()
    assert "data-ranking" in page and 'name="rank_2"' in page and 'name="choice"' not in page
    assert (
        page.index(THREE[order[0]]["text"]) < page.index(THREE[order[1]]["text"]) < page.index(THREE[order[2]]["text"])
    )
    url = f"/p/demo/annotate/{assignment.id}/submit/"
    headers = {"HTTP_X_CSRFTOKEN": token, "HTTP_HX_REQUEST": "true"}
    missing = browser_client.post(url, {"client_id": str(uuid.uuid4()), "rank_0": "1", "rank_1": "junk"}, **headers)
    assert missing.status_code == 422 and "Give every response a place" in missing.content.decode()
    assert "Response B has no place. Response C has no place." in missing.content.decode()  # as shown, not ids
    assert 'name="rank_0"' in missing.content.decode() and not Annotation.objects.exists()
    # Shown second and third tie for first place; shown first comes last.
    data = {"client_id": str(uuid.uuid4()), "rank_0": "2", "rank_1": "1", "rank_2": "1", "rationale": "why"}
    assert browser_client.post(url, data, **headers).status_code == 200
    stored = Annotation.objects.get()
    assert stored.payload["ranking"] == [sorted(order[1:]), [order[0]]] and stored.payload["rationale"] == "why"
    edit = browser_client.get(f"/p/demo/work/{stored.id}/").content.decode()
    for position, place in [(0, "2"), (1, "1"), (2, "1")]:
        select = edit[edit.index(f'name="rank_{position}"') :]
        assert f'<option value="{place}" selected>' in select[: select.index("</select>")]


def test_worked_example_kendall_w():
    # Three raters rank four responses: rank sums 4, 6, 8, 12 (mean 7.5), S = 35, W = 12 S / (m² (n³ − n)).
    rankings = [[[0], [1], [2], [3]], [[0], [2], [1], [3]], [[1], [0], [2], [3]]]
    assert kendall_w(rankings) == pytest.approx(12 * 35 / (9 * (64 - 4)))
    assert kendall_w([[[0], [1], [2]], [[0], [1], [2]]]) == pytest.approx(1.0)
    assert kendall_w([[[0, 1, 2]], [[0, 1, 2]]]) is None and kendall_w([[[0], [1], [2]]]) is None
    # With ties, Friedman's tie correction: two raters, one ties the last two. Hand-computed:
    # positions (0,1,2) and (0,1,1) → ranks (1,2,3), (1,2.5,2.5); sums 2, 4.5, 5.5; S = 6.5 (mean 4);
    # T = (2³ − 2) = 6; W = 12 S / (m² (n³ − n) − m T) = 78 / (4·24 − 2·6) = 78 / 84.
    assert kendall_w([[[0], [1], [2]], [[0], [1, 2]]]) == pytest.approx(78 / 84)


def test_worked_example_alpha_over_pairs():
    import krippendorff

    items = {7: [(1, [[0], [1], [2]]), (2, [[0], [1, 2]]), (3, [[2], [0, 1]])]}
    # Units are the pairs (0,1), (0,2), (1,2); rows are annotators; values +1 / 0 / −1.
    matrix = np.array([[1, 1, 1], [1, 1, 0], [0, -1, -1]], dtype=float)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    assert pairwise_alpha(items) == pytest.approx(expected)


def judge(project, user, ranking=None, payload=None):
    assignment = assignment_next(project=project, user=user)
    annotation_submit(
        assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload or {"ranking": ranking}
    )


def test_ranking_agreement_is_on_the_dashboards_and_the_api(project, users, make_items, browser_client):
    make_items(project, demo_rows(2, kind="preference", responses=[{"text": "yes"}, {"text": "no"}]))
    for user, choice in [("ann1", 0), ("ann2", 0)]:
        for _ in range(2):
            judge(project, users[user], payload={"choice": choice, "strength": "clear"})
    before = pairwise_metrics(project)
    make_items(project, [{"kind": "preference", "prompt": "Rank these", "responses": THREE}])
    judge(project, users["ann1"], [[0], [1], [2]])
    judge(project, users["ann2"], [[1], [0, 2]])
    after = pairwise_metrics(project)
    assert {key: after[key] for key in before if key != "rankings"} == {
        key: before[key] for key in before if key != "rankings"
    }
    rankings = ranking_metrics(project)
    assert after["rankings"] == rankings
    assert rankings["judgments"] == 2 and rankings["items"] == 1 and rankings["kendall_w_items"] == 1
    assert rankings["alpha_pairs"] is not None and rankings["disputed"][0]["kendall_w"] == rankings["kendall_w"]
    api = client_for(users["reviewer"]).get("/api/v1/projects/demo/metrics/").json()
    assert api["pairwise"]["rankings"]["kendall_w"] == pytest.approx(rankings["kendall_w"])
    login(browser_client, users["reviewer"])
    agreement = browser_client.get("/p/demo/quality/agreement/").content.decode()
    assert "Kendall&#x27;s W" in agreement or "Kendall's W" in agreement
    disputes = browser_client.get("/p/demo/quality/disputes/").content.decode()
    assert "Rank these" in disputes
    csv = browser_client.get("/p/demo/quality/disputes/?format=csv&table=rankings").content.decode()
    assert csv.splitlines()[0] == "item,judgments,kendall_w,prompt"


def test_migration_clears_the_scores_of_judgments_on_ranked_items(project, users, make_items):
    pair, ranked = make_items(
        project,
        [
            {"kind": "preference", "prompt": "Two", "responses": THREE[:2]},
            {"kind": "preference", "prompt": "Three", "responses": THREE},
        ],
    )
    Membership.objects.filter(project=project).update(role="annotator")
    for item in (pair, ranked):
        assignment = item.assignments.create(
            project=project, annotator=users["ann1"], expires_at="2030-01-01T00:00Z", response_order=[0, 1]
        )
        Annotation.objects.create(
            project=project,
            item=item,
            assignment=assignment,
            annotator=users["ann1"],
            kind="preference",
            payload={"choice": 1, "strength": "clear"},
            preference_score=-2,
            shown_first=0,
        )
    migration = importlib.import_module("annotation.migrations.0002_ranking")
    migration.clear_scores_of_ranked_items(django_apps, None)
    scores = dict(Annotation.objects.values_list("item__prompt", "preference_score"))
    assert scores == {"Two": -2, "Three": None}


def test_the_adjudication_page_shows_each_ranking(project, users, three, browser_client):
    judge(project, users["ann1"], [[2], [0, 1]])
    login(browser_client, users["reviewer"])
    page = browser_client.get(f"/p/demo/quality/disputes/{three.id}/").content.decode()
    assert "ranked 2 &gt; 0 = 1" in page
