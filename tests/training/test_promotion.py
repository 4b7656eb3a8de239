"""Champion, promotion and rejection of model versions: one champion per project (held by the database), every
decision kept, a rollback to a former champion, no way back for a rejected candidate; admins decide over the API,
reviewers read, annotators never see a model."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from annotation.errors import Conflict, InvalidInput
from annotation.models import Project
from training.models import ModelDecision, ModelVersion, Snapshot, TrainingRun
from training.promotion import model_promote, model_reject

pytestmark = pytest.mark.django_db


def add_version(project: Project, name: str, parent: ModelVersion | None = None) -> ModelVersion:
    snapshot, _ = Snapshot.objects.get_or_create(project=project, version=1, defaults={"config": {}, "status": "ready"})
    run = TrainingRun.objects.create(snapshot=snapshot, config_yaml="base_model: x\n", status="succeeded")
    return ModelVersion.objects.create(
        project=project,
        name=name,
        run=run,
        snapshot=snapshot,
        parent=parent,
        model_path=f"models/{project.slug}/{name}",
        metrics={"sft": {"train_loss": 1.5}},
    )


@pytest.fixture
def versions(project):
    first = add_version(project, "demo-m1")
    return [first, add_version(project, "demo-m2", parent=first), add_version(project, "demo-m3", parent=first)]


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user(username="stranger", password="pw-stranger")


def history(version: ModelVersion) -> list[tuple]:
    return list(version.decisions.order_by("id").values_list("decision", "reason", "decided_by__username", "automatic"))


def test_the_database_holds_at_most_one_champion_per_project(versions, users):
    ModelVersion.objects.filter(id=versions[0].id).update(status="champion")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(id=versions[1].id).update(status="champion")
    other = Project.objects.create(name="Other", slug="other")
    ModelVersion.objects.filter(id=add_version(other, "other-m1").id).update(status="champion")
    ModelVersion.objects.filter(id__in=[versions[1].id, versions[2].id]).update(status="retired")


def test_promoting_retires_the_champion_and_keeps_the_history(versions, users):
    first, second, _ = versions
    model_promote(version=first, user=users["admin"], reason="Best win rate.")
    model_promote(version=second, user=None, reason="Won 70% of reviews.", automatic=True)
    statuses = dict(ModelVersion.objects.values_list("name", "status"))
    assert statuses == {"demo-m1": "retired", "demo-m2": "champion", "demo-m3": "candidate"}
    assert history(first) == [
        ("promoted", "Best win rate.", "admin", False),
        ("retired", "Replaced by demo-m2.", None, True),
    ]
    assert history(second) == [("promoted", "Won 70% of reviews.", None, True)]
    with pytest.raises(Conflict, match="already the champion"):
        model_promote(version=second, user=users["admin"])
    assert ModelDecision.objects.count() == 3


def test_a_retired_champion_can_be_promoted_back(versions, users):
    first, second, _ = versions
    model_promote(version=first, user=users["admin"])
    model_promote(version=second, user=users["admin"])
    model_promote(version=first, user=users["admin"], reason="m2 regressed on refusals.")
    assert dict(ModelVersion.objects.values_list("name", "status"))["demo-m1"] == "champion"
    assert [row[0] for row in history(first)] == ["promoted", "retired", "promoted"]
    assert history(second)[-1] == ("retired", "Replaced by demo-m1.", "admin", False)


def test_rejecting_needs_a_reason_takes_only_candidates_and_blocks_a_later_promotion(versions, users):
    first, second, _ = versions
    for blank in ["", "   \n"]:
        with pytest.raises(InvalidInput) as refused:
            model_reject(version=second, user=users["admin"], reason=blank)
        assert refused.value.field == "reason"
    rejected = model_reject(version=second, user=users["admin"], reason="  Too verbose.  ")
    assert rejected.status == "rejected"
    assert history(second) == [("rejected", "Too verbose.", "admin", False)]
    with pytest.raises(Conflict, match="was rejected"):
        model_promote(version=second, user=users["admin"])
    with pytest.raises(Conflict, match="only a candidate"):
        model_reject(version=second, user=users["admin"], reason="Again.")
    model_promote(version=first, user=users["admin"])
    with pytest.raises(Conflict, match="demo-m1 is champion"):
        model_reject(version=first, user=users["admin"], reason="Changed my mind.")
    second.refresh_from_db()
    assert second.status == "rejected" and ModelDecision.objects.count() == 2


def test_the_api_lists_versions_with_their_lineage_and_decisions(client, versions, users):
    first, second, third = versions
    model_promote(version=first, user=users["admin"], reason="First.")
    model_promote(version=second, user=users["admin"])
    client.force_login(users["reviewer"])
    listed = client.get("/api/v1/projects/demo/models/").json()
    assert [row["name"] for row in listed] == ["demo-m3", "demo-m2", "demo-m1"]
    assert listed[2] == {
        "id": first.id,
        "project": "demo",
        "name": "demo-m1",
        "status": "retired",
        "parent": None,
        "snapshot": first.snapshot_id,
        "snapshot_version": 1,
        "run": first.run_id,
        "metrics": {"sft": {"train_loss": 1.5}},
        "created_at": listed[2]["created_at"],
        "decisions": [
            {
                "decision": "promoted",
                "reason": "First.",
                "decided_by": "admin",
                "decided_at": listed[2]["decisions"][0]["decided_at"],
                "automatic": False,
            },
            {
                "decision": "retired",
                "reason": "Replaced by demo-m2.",
                "decided_by": "admin",
                "decided_at": listed[2]["decisions"][1]["decided_at"],
                "automatic": False,
            },
        ],
    }
    assert (listed[1]["status"], listed[1]["parent"]) == ("champion", "demo-m1")
    assert client.get(f"/api/v1/models/{third.id}/").json() == listed[0]


def test_listing_costs_the_same_queries_for_one_version_or_many(client, project, users):
    client.force_login(users["reviewer"])
    add_version(project, "demo-m1")
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/projects/demo/models/")
    for n in range(2, 6):
        model_promote(version=add_version(project, f"demo-m{n}"), user=users["admin"])
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/projects/demo/models/").json()) == 5
    assert len(many) == len(one)


def test_admins_promote_and_reject_over_the_api(client, versions, users):
    first, second, _ = versions
    client.force_login(users["admin"])
    body = client.post(f"/api/v1/models/{first.id}/promote/", {"reason": "Ship it."}, "application/json").json()
    assert (body["status"], body["decisions"][0]["reason"]) == ("champion", "Ship it.")
    assert client.post(f"/api/v1/models/{second.id}/promote/").json()["status"] == "champion"
    assert client.post(f"/api/v1/models/{second.id}/promote/").status_code == 409
    refused = client.post(f"/api/v1/models/{versions[2].id}/reject/", {}, "application/json")
    assert refused.status_code == 400 and refused.json()["field"] == "reason"
    refused = client.post(f"/api/v1/models/{versions[2].id}/reject/", {"reason": "  "}, "application/json")
    assert refused.status_code == 400 and refused.json()["field"] == "reason"
    body = client.post(f"/api/v1/models/{versions[2].id}/reject/", {"reason": "Worse."}, "application/json").json()
    assert body["status"] == "rejected" and body["decisions"][-1]["decided_by"] == "admin"
    conflict = client.post(f"/api/v1/models/{versions[2].id}/promote/")
    assert conflict.status_code == 409 and "rejected" in conflict.json()["detail"]


def test_reviewers_read_annotators_see_nothing_and_outsiders_get_404(client, versions, users, stranger):
    version = versions[1]
    reads = ["/api/v1/projects/demo/models/", f"/api/v1/models/{version.id}/"]
    writes = [f"/api/v1/models/{version.id}/promote/", f"/api/v1/models/{version.id}/reject/"]
    refusals = [
        (stranger, reads, 404),
        (stranger, writes, 404),
        (users["ann1"], reads, 403),
        (users["ann1"], writes, 403),
        (users["reviewer"], writes, 403),
    ]
    for user, urls, refused in refusals:
        client.force_login(user)
        for url in urls:
            response = client.post(url, {"reason": "x"}, "application/json") if url in writes else client.get(url)
            assert response.status_code == refused, (user, url)
            assert set(response.json()) == {"detail", "field", "errors"}
            assert "demo-m" not in response.content.decode()
    client.force_login(users["reviewer"])
    assert all(client.get(url).status_code == 200 for url in reads)
    assert not ModelDecision.objects.exists()
    assert set(ModelVersion.objects.values_list("status", flat=True)) == {"candidate"}


def promote_at_once(version_ids: list[int], user) -> list[str]:
    """Promote each version from its own thread and connection, all released together; the errors, if any."""
    barrier = threading.Barrier(len(version_ids))
    failures: list[str] = []

    def promote(version_id):
        try:
            barrier.wait()
            model_promote(version=ModelVersion.objects.get(id=version_id), user=user)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(version_id,)) for version_id in version_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return failures


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite has none")
@pytest.mark.django_db(transaction=True)
def test_promotions_at_the_same_moment_end_with_exactly_one_champion(versions, users):
    for round_ in range(5):
        ModelVersion.objects.update(status="candidate")
        ModelDecision.objects.all().delete()
        assert promote_at_once([version.id for version in versions], users["admin"]) == [], round_
        champions = list(ModelVersion.objects.filter(status="champion"))
        assert len(champions) == 1
        decisions = list(ModelDecision.objects.order_by("id").values_list("decision", flat=True))
        assert decisions == ["promoted", "retired", "promoted", "retired", "promoted"]
        assert ModelDecision.objects.order_by("id").last().model_version == champions[0]
