"""A ranked item exports as every pair its annotators settle, each with how many of them backed it."""

import uuid

import pytest

from annotation.assignment import annotation_submit, assignment_next
from annotation.models import Adjudication, Annotation, Item, Membership
from tests.conftest import login
from tests.training.conftest import build
from tests.training.test_snapshots import read_jsonl
from training.snapshots.aggregate import pair_labels

pytestmark = pytest.mark.django_db

TEXTS = ["response one", "response two", "response three"]


@pytest.fixture
def ranked(project, users, make_items):
    """One preference item with three responses, three annotators."""
    project.overlap = 3
    project.save()
    Membership.objects.create(project=project, user=users["outsider"], role="annotator")
    (item,) = make_items(project, [{"kind": "preference", "prompt": "Rank", "responses": [{"text": t} for t in TEXTS]}])
    return item


def judge(project, user, payload):
    assignment = assignment_next(project=project, user=user)
    annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)


def pairs(snapshot) -> dict[tuple[str, str], dict]:
    rows = read_jsonl(snapshot, "dpo.train.jsonl")
    return {(row["chosen"][0]["content"], row["rejected"][0]["content"]): row for row in rows}


def test_the_report_two_of_three_picked_response_three(ranked, project, users, django_capture_on_commit_callbacks):
    """Judgments stored as they were before rankings: ann1 and ann2 picked response 3, the outsider response 2.
    The snapshot said "response 2 beat response 1, agreement 1.0" from the one vote it could read."""
    for name, choice, score in [("ann1", 2, None), ("ann2", 2, None), ("outsider", 1, -2)]:
        assignment = Item.objects.get().assignments.create(
            project=project, annotator=users[name], expires_at="2030-01-01T00:00Z", response_order=[0, 1, 2]
        )
        Annotation.objects.create(
            project=project,
            item=ranked,
            assignment=assignment,
            annotator=users[name],
            kind="preference",
            payload={"choice": choice, "strength": "clear"},
            preference_score=score,
        )
    exported = pairs(build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0))
    assert ("response two", "response one") not in exported
    assert set(exported) == {("response three", "response one"), ("response three", "response two")}
    for row in exported.values():
        assert (row["votes"], row["backing"], row["agreement"]) == (3, 2, pytest.approx(2 / 3))


def test_rankings_export_every_implied_pair(ranked, project, users, django_capture_on_commit_callbacks):
    judge(project, users["ann1"], {"ranking": [[2], [0, 1]]})
    judge(project, users["ann2"], {"ranking": [[2], [0, 1]]})
    judge(project, users["outsider"], {"ranking": [[1], [0], [2]]})
    snapshot = build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0)
    exported = pairs(snapshot)
    # (one, two): two ties and one vote for two, so a tie majority: no pair.
    assert set(exported) == {("response three", "response one"), ("response three", "response two")}
    three_one = exported["response three", "response one"]
    assert (three_one["votes"], three_one["backing"]) == (3, 2) and three_one["source_ids"] == sorted(
        Annotation.objects.values_list("id", flat=True)
    )
    assert snapshot.counts["dropped"] == {"ranked_pairs_not_agreed": 1}
    strict = pairs(build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0, ties="ignore"))
    # Ignoring ties, (one, two) has one vote, for two; the other pairs keep their majorities.
    assert (strict["response two", "response one"]["votes"], strict["response two", "response one"]["agreement"]) == (
        1,
        1.0,
    )
    assert len(strict) == 3


def test_an_older_single_choice_adjudication_decides_the_pairs_it_names(
    ranked, project, users, django_capture_on_commit_callbacks
):
    judge(project, users["ann1"], {"ranking": [[0], [1], [2]]})
    judge(project, users["ann2"], {"ranking": [[2], [1], [0]]})
    Adjudication.objects.create(item=ranked, choice=1, strength="clear", adjudicator=users["reviewer"])
    exported = pairs(build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0))
    assert set(exported) == {("response two", "response one"), ("response two", "response three")}
    assert all(row["adjudicated"] and row["backing"] == 1 for row in exported.values())


def test_an_adjudicated_ranking_from_the_page_decides_every_pair(
    ranked, project, users, browser_client, django_capture_on_commit_callbacks
):
    judge(project, users["ann1"], {"ranking": [[0], [1], [2]]})
    judge(project, users["ann2"], {"ranking": [[2], [1], [0]]})
    token = login(browser_client, users["reviewer"])
    places = {"rank_0": "3", "rank_1": "1", "rank_2": "1", "rationale": "two and three are equally good"}
    response = browser_client.post(f"/p/demo/quality/disputes/{ranked.id}/", places, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and "Final label saved." in response.content.decode()
    assert Adjudication.objects.get().choice == [[1, 2], [0]]
    exported = pairs(build(project, users["admin"], django_capture_on_commit_callbacks, eval_fraction=0.0))
    # Two and three tie in the adjudicated ranking: no pair between them; both beat one.
    assert set(exported) == {("response two", "response one"), ("response three", "response one")}
    assert all(row["adjudicated"] for row in exported.values())


@pytest.mark.parametrize(
    ("judgments", "kwargs", "expected"),
    [
        # Unanimous full order: all three pairs, each backed by both.
        ([[[0], [1], [2]], [[0], [1], [2]]], {}, {(0, 1): 2, (0, 2): 2, (1, 2): 2}),
        # Everything tied: no pair.
        ([[[0, 1, 2]], [[0, 1, 2]]], {}, {}),
        # min_agreement applies per pair: 2 of 3 is below 0.7.
        ([[[0], [1], [2]], [[0], [1], [2]], [[2], [1], [0]]], {"min_agreement": 0.7}, {}),
        # An adjudicated ranking decides every pair, its ties drop theirs.
        ([[[2], [1], [0]]], {"adjudication": ([[0], [1, 2]], "clear")}, {(0, 1): 0, (0, 2): 0}),
    ],
)
def test_pair_policy(judgments, kwargs, expected):
    options = {"ties": "count", "min_agreement": 0.6, "min_strength": "strong", **kwargs}
    settled = pair_labels(3, [(None, {"ranking": ranking}) for ranking in judgments], **options)
    assert {(chosen, rejected): label.backing for chosen, rejected, label in settled} == expected
