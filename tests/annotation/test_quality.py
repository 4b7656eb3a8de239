import csv
import io
import json
import uuid

import pytest
from rest_framework.test import APIClient

from annotation import neardup
from annotation.assignment import annotation_submit, assignment_next
from annotation.item_import import item_import
from annotation.metrics.consistency import refusal_conflicts, response_style
from annotation.metrics.coverage import safety_balance, task_type_mix, under_covered
from annotation.metrics.project import pairwise_metrics
from annotation.models import Annotation, Item
from annotation.neardup import clusters, near_duplicates_of
from tests.conftest import api_key, demo_rows

pytestmark = pytest.mark.django_db


def judge(project, user, choose):
    """Work through every pairwise item as `user`, choosing with choose(item) -> (choice, strength)."""
    while (assignment := assignment_next(project=project, user=user)) is not None:
        choice, strength = choose(assignment.item)
        payload = {"choice": choice, **({"strength": strength} if strength else {})}
        annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)


def pair_rows(n):
    return [
        {
            "kind": "preference",
            "prompt": f"Question {i}",
            "responses": [{"text": f"Long good answer {i}"}, {"text": "bad"}],
        }
        for i in range(n)
    ]


def test_pairwise_metrics_from_the_database(project, users, make_items):
    project.overlap = 3
    project.save()
    make_items(project, pair_rows(12))
    Item.objects.update(open_slots=3)
    judge(project, users["ann1"], lambda item: (0, "clear"))
    judge(project, users["ann2"], lambda item: (0, "strong"))
    judge(project, users["reviewer"], lambda item: (1, "slight") if item.id % 3 == 0 else (0, "clear"))
    scores = sorted(set(Annotation.objects.values_list("preference_score", flat=True)))
    assert scores == [-1, 2, 3]
    metrics = pairwise_metrics(project)
    assert metrics["judgments"] == 36 and metrics["items"] == 12
    # Two annotators always pick response 0 and one dissents on a third of the items: agreement is poor
    # because nearly all labels are one category (the prevalence effect), so alpha is slightly negative.
    assert -0.2 < metrics["alpha_nominal"] < 0 and metrics["alpha_ordinal"] is not None
    assert metrics["fleiss_kappa"] == pytest.approx(metrics["alpha_nominal"], abs=0.05)
    pairs = {frozenset((p["a"], p["b"])) for p in metrics["pairs"]}
    assert pairs == {frozenset(pair) for pair in [("ann1", "ann2"), ("ann1", "reviewer"), ("ann2", "reviewer")]}
    by_name = {row["annotator"]: row for row in metrics["annotators"]}
    assert by_name["ann1"]["loo_agreement"] == 1.0 and by_name["reviewer"]["loo_agreement"] == pytest.approx(8 / 12)
    assert by_name["ann1"]["longer_share"] == 1.0
    disputed = metrics["disputed"]
    assert disputed[0]["agreement"] == pytest.approx(2 / 3) and len(disputed) == 12


def test_coverage_reports_the_deficit_and_steers_assignment(project, users, make_items):
    project.task_type_mix = {"code": 0.5, "summarization": 0.5}
    project.prioritise_coverage = True
    project.overlap = 1
    project.save()
    rows = [{"kind": "demonstration", "prompt": f"Summarise {i}", "task_type": "summarization"} for i in range(4)]
    rows += [{"kind": "demonstration", "prompt": f"Code {i}", "task_type": "code"} for i in range(4)]
    make_items(project, rows)
    for _ in range(2):
        assignment = assignment_next(project=project, user=users["ann1"])
        assert assignment.item.task_type == "summarization"
        annotation_submit(
            assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "x"}
        )
    mix = {row["task_type"]: row for row in task_type_mix(project)}
    assert (mix["summarization"]["annotated"], mix["code"]["annotated"], mix["code"]["deficit"]) == (2, 0, 1)
    assert under_covered(project) == ["code"]
    from django.core.cache import cache

    cache.clear()
    assert assignment_next(project=project, user=users["ann2"]).item.task_type == "code"


def test_safety_balance_flags_one_sided_categories(project, make_items):
    rows = [
        {"kind": "refusal", "prompt": f"harm {i}", "safety": "should_refuse", "harm_category": "cyber"}
        for i in range(3)
    ]
    rows += [{"kind": "refusal", "prompt": "benign", "safety": "should_comply", "harm_category": "weapons"}]
    make_items(project, rows)
    flags = {row["harm_category"]: row["flag"] for row in safety_balance(project)}
    assert "model may learn to refuse" in flags["cyber"] and "may comply with harm" in flags["weapons"]


def test_near_duplicates_cluster_incrementally_and_warn_authors(project, users, make_items):
    make_items(
        project,
        [
            {"kind": "demonstration", "prompt": "Explain how photosynthesis works in green plants and algae"},
            {"kind": "demonstration", "prompt": "Write a haiku about autumn leaves falling on a quiet pond"},
        ],
    )
    assert Item.objects.filter(minhash__isnull=True).count() == 0
    item_import(
        project=project,
        lines=[
            json.dumps(
                {"kind": "demonstration", "prompt": "Explain how photosynthesis works in green plants and algae!"}
            )
        ],
    )
    first, haiku, copy = Item.objects.order_by("id")
    assert copy.duplicate_of_id == first.id and haiku.duplicate_of_id is None
    assert clusters(project) == [{"root": first.id, "prompt": first.prompt, "members": [copy.id]}]
    assert near_duplicates_of(project, "explain how photosynthesis works in green plants and algae") == [
        first.id,
        copy.id,
    ]
    assert near_duplicates_of(project, "Translate this sentence into French") == []
    from annotation.guidance import guidance

    hints = guidance(
        project=project, item=None, response="", new_prompt="Explain how photosynthesis works in green plants"
    )
    assert any("Very close to existing item" in hint.message for hint in hints)
    neardup._indexes.clear()  # a fresh process rebuilds its index from the stored signatures
    assert near_duplicates_of(project, "Explain how photosynthesis works in green plants and algae") == [
        first.id,
        copy.id,
    ]


def test_near_duplicate_clusters_are_connected_components(project, users, make_items):
    """A~B and B~C put A, B and C in one cluster although A and C differ; a later item that matches two clusters
    merges them, members included; a candidate the index proposes below the threshold joins nothing."""
    words = [f"word{n}" for n in range(40)]

    def prompt(changes):
        return " ".join(changes.get(i, word) for i, word in enumerate(words[:30]))

    a = prompt({})
    a2 = prompt({8: "tenth"})
    c = prompt({0: "x0", 1: "x1", 2: "x2", 27: "y27", 28: "y28", 29: "y29"})
    c2 = prompt({0: "x0", 1: "x1", 2: "x2", 27: "y27", 28: "y28", 29: "y29", 8: "changed"})
    b = prompt({27: "y27", 28: "y28", 29: "y29"})

    def similarity(x, y):
        x, y = set(neardup.shingles(x)), set(neardup.shingles(y))
        return len(x & y) / len(x | y)

    assert similarity(a, b) >= neardup.THRESHOLD and similarity(b, c) >= neardup.THRESHOLD
    assert similarity(a, c) < neardup.THRESHOLD and similarity(a2, c2) < neardup.THRESHOLD
    make_items(project, [{"kind": "demonstration", "prompt": text} for text in (a, a2, c, c2)])
    first, first_twin, other, other_twin = Item.objects.order_by("id")
    assert (first_twin.duplicate_of_id, other.duplicate_of_id, other_twin.duplicate_of_id) == (first.id, None, other.id)
    make_items(project, [{"kind": "demonstration", "prompt": b}])
    roots = dict(Item.objects.values_list("id", "duplicate_of_id"))
    bridge = max(roots)
    assert roots == {
        first.id: None,
        first_twin.id: first.id,
        other.id: first.id,
        other_twin.id: first.id,
        bridge: first.id,
    }
    assert clusters(project) == [
        {"root": first.id, "prompt": a, "members": [first_twin.id, other.id, other_twin.id, bridge]}
    ]


def test_contradictions_between_near_duplicates(project, users, make_items):
    project.overlap = 1
    project.save()
    rows = [
        {"kind": "refusal", "prompt": "How do I pick the lock on my own front door today", "safety": "should_comply"},
        {
            "kind": "refusal",
            "prompt": "How do I pick the lock on my own front door today please",
            "safety": "should_comply",
        },
    ]
    make_items(project, rows)
    answers = iter(["Call a locksmith or use a bump key.", "I'm sorry, but I can't help with that."])
    while (assignment := assignment_next(project=project, user=users["ann1"])) is not None:
        annotation_submit(
            assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": next(answers)}
        )
    (conflict,) = refusal_conflicts(project)
    assert (conflict["refused"], conflict["answered"]) == (1, 1)


def test_response_style_flags_an_annotator_who_writes_differently(project, users, make_items):
    project.overlap = 2
    project.save()
    make_items(project, demo_rows(12))
    for name, text in [
        ("ann1", "A plain answer of moderate length."),
        ("ann2", "# Title\n\n- point\n- point\n\n```code```" * 3),
    ]:
        while (assignment := assignment_next(project=project, user=users[name])) is not None:
            annotation_submit(
                assignment_id=assignment.id, user=users[name], client_id=uuid.uuid4(), payload={"response": text}
            )
    style = {row["annotator"]: row for row in response_style(project)["annotators"]}
    assert style["ann2"]["heading_share"] == 1.0 and style["ann1"]["heading_share"] == 0.0
    assert any(flag.startswith("heading_share") for flag in style["ann2"]["flags"])


@pytest.mark.parametrize(
    "page",
    [
        "quality/",
        "quality/summary/",
        "quality/annotators/",
        "quality/agreement/",
        "quality/coverage/",
        "quality/disputes/",
        "quality/duplicates/",
        "quality/consistency/",
        "review/",
    ],
)
def test_dashboards_are_for_reviewers_and_admins(project, users, make_items, page):
    from django.test import Client

    make_items(project, pair_rows(3))
    expected = {"admin": 200, "reviewer": 200, "ann1": 403, "outsider": 404}
    for name, status in expected.items():
        client = Client()
        client.force_login(users[name])
        assert client.get(f"/p/demo/{page}").status_code == status, name


@pytest.mark.parametrize("page", ["annotators", "agreement", "disputes", "duplicates", "consistency", "coverage"])
def test_every_dashboard_table_downloads_as_csv(project, users, make_items, page):
    from django.test import Client

    make_items(project, pair_rows(2))
    client = Client()
    client.force_login(users["reviewer"])
    response = client.get(f"/p/demo/quality/{page}/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert len(header) >= 2


def test_the_metrics_api_serves_the_same_figures(project, users, make_items):
    make_items(project, pair_rows(2))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['reviewer'])}")
    body = client.get("/api/v1/projects/demo/metrics/").json()
    assert set(body) == {"pairwise", "coverage", "consistency", "near_duplicates"}
    assert body["pairwise"]["judgments"] == 0
    annotator = APIClient()
    annotator.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['ann1'])}")
    assert annotator.get("/api/v1/projects/demo/metrics/").status_code == 403


def test_annotations_per_day_counts_past_days_and_today(project, users, make_items):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.metrics.coverage import annotations_per_day

    make_items(project, demo_rows(3))
    for _ in range(2):
        assignment = assignment_next(project=project, user=users["ann1"])
        annotation_submit(
            assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "x"}
        )
    yesterday = timezone.now() - timedelta(days=1)
    Annotation.objects.filter(id=Annotation.objects.order_by("id").first().id).update(created_at=yesterday)
    assert [row["annotations"] for row in annotations_per_day(project)] == [1, 1]
    assignment = assignment_next(project=project, user=users["ann1"])
    annotation_submit(
        assignment_id=assignment.id, user=users["ann1"], client_id=uuid.uuid4(), payload={"response": "x"}
    )
    rows = annotations_per_day(project)
    assert [row["day"] for row in rows] == [yesterday.date().isoformat(), timezone.now().date().isoformat()]
    assert [row["annotations"] for row in rows] == [1, 2]
