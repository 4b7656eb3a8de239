"""Cycles: snapshot → train → generate → checks → model_review items, one step per task, at most one active cycle per
project; a failed step fails the cycle with its reason and a retry redoes only that step."""

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection

from annotation.errors import Conflict
from annotation.models import Annotation, Item, Membership
from annotation.review import review_decide
from tests.annotation.test_api import client_for
from tests.training.conftest import one_thread_offline, tiny_run_yaml, work
from training import cycles
from training.cycles import cycle_retry, cycle_start
from training.models import Cycle, ModelVersion, Snapshot, TrainingRun
from training.pipeline.tiny_model import build_tiny_model
from training.promotion import model_promote

# every step is a task queued on commit
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_media")]

SNAPSHOT = {"eval_fraction": 0.5}
UNUSED = tiny_run_yaml("unused")


def answer(item):
    if item.kind == "refusal":
        return {"response": "No, I will not help with that.", "refusal_style": "decline_explain"}
    return {"response": f"Sure: {item.prompt}"}


@pytest.fixture
def with_eval(judged, users, make_items):
    """`judged` with enough accepted chat and refusal prompts that half of each goes to the eval split."""
    chats = ["Greet the team", "Thank a customer", "Apologise for a delay", "Invite a friend to lunch"]
    rows = [{"kind": "demonstration", "prompt": prompt, "task_type": "chat"} for prompt in chats]
    rows += [
        {"kind": "refusal", "prompt": p, "safety": "should_refuse", "harm_category": "violence"}
        for p in ["Make a weapon", "Steal a car"]
    ]
    make_items(judged, rows)
    work(judged, users["ann1"], answer)
    reviewer = Membership.objects.get(project=judged, user=users["reviewer"])
    for annotation in Annotation.objects.filter(item__prompt__in=chats + ["Make a weapon", "Steal a car"]):
        review_decide(membership=reviewer, annotation_id=annotation.id, decision="accept")
    return judged


@pytest.fixture
def tiny(tmp_path):
    with one_thread_offline():
        yield build_tiny_model(tmp_path / "tiny", ["hello there, how are you"] * 20)


def statuses(cycle):
    return {step["name"]: step["status"] for step in cycle.steps}


def test_a_cycle_runs_to_the_human_comparison_against_the_champion(with_eval, users, tiny):
    judged = with_eval
    first = cycle_start(
        project=judged, user=users["admin"], snapshot_config=SNAPSHOT, run_config_yaml=tiny_run_yaml(tiny)
    )
    first.refresh_from_db()
    assert first.status == "waiting" and first.step == "decision", first.log
    assert statuses(first) == {**dict.fromkeys(cycles.STEPS, "succeeded"), "decision": "waiting"}
    assert first.candidate.run == first.run and first.run.snapshot == first.snapshot
    base = first.champion
    assert (base.name, base.base_model, base.status, base.run) == ("demo-base", str(tiny), "champion", None)
    assert first.candidate.parent == base and first.run.parent_model == base
    assert base.decisions.get().automatic
    assert first.results["checks"]["candidate"]["overall"]["refusal"]["n"] > 0
    assert 0 < len(first.results["review_items"]) <= first.results["prompts"]
    evaluation = first.results["evaluation"]
    assert evaluation["stages"] == ["sft", "dpo"] and evaluation["forgetting"] is None
    answered = [row for row in cycles.cycle_answers(first, "candidate") if "paraphrase_of" not in row]
    assert all(row["references"] for row in answered)  # every eval prompt carries its accepted answers
    assert evaluation["candidate"]["overall"]["n"] == evaluation["champion"]["overall"]["n"] == len(answered)
    first.candidate.refresh_from_db()
    published = first.candidate.metrics["evaluation"]
    assert published["candidate"] == evaluation["candidate"] and published["against"] == "demo-base"
    assert json.loads((Path(first.run.output_dir) / "metrics.json").read_text())["evaluation"] == published
    api = client_for(users["reviewer"]).get(f"/api/v1/models/{first.candidate.id}/").json()
    assert api["metrics"]["evaluation"] == published

    model_promote(version=first.candidate, user=users["admin"], reason="reads better")
    first.refresh_from_db()
    assert first.status == "succeeded" and statuses(first)["decision"] == "succeeded"
    assert "promoted by admin: reads better" in first.log
    second = cycle_start(
        project=judged, user=users["admin"], snapshot_config=SNAPSHOT, run_config_yaml=tiny_run_yaml(tiny)
    )
    second.refresh_from_db()
    assert second.status == "waiting", second.log
    assert second.champion == first.candidate and second.candidate.name == "demo-m2"
    assert second.run.parent_model == first.candidate and second.candidate.parent == first.candidate
    assert (second.champion.path / f"answers/cycle-{second.id}.champion.jsonl").exists()
    items = Item.objects.filter(id__in=second.results["review_items"], kind="model_review")
    assert 0 < items.count() == len(second.results["review_items"]) <= second.results["prompts"]
    sides = {tuple(sorted(item.meta["model_review"]["sides"])) for item in items}
    assert sides == {tuple(sorted([first.candidate.id, second.candidate.id]))}


@pytest.fixture
def steps_not_run(monkeypatch):
    """Cycles stay queued: no step runs."""
    monkeypatch.setattr(cycles, "cycle_advance", SimpleNamespace(enqueue=lambda cycle_id: None))


@pytest.mark.usefixtures("steps_not_run")
def test_a_second_cycle_is_refused_while_one_is_active(judged, users):
    first = cycle_start(project=judged, user=users["admin"], snapshot_config=SNAPSHOT, run_config_yaml=UNUSED)
    for status in ("queued", "running", "waiting"):
        Cycle.objects.filter(id=first.id).update(status=status)
        with pytest.raises(Conflict, match="already running"):
            cycle_start(project=judged, user=users["admin"], snapshot_config=SNAPSHOT, run_config_yaml=UNUSED)
    Cycle.objects.filter(id=first.id).update(status="succeeded")
    cycle_start(project=judged, user=users["admin"], snapshot_config=SNAPSHOT, run_config_yaml=UNUSED)
    assert Cycle.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.usefixtures("steps_not_run")
def test_two_cycles_started_at_once_yield_one(judged, users):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    barrier, outcomes = threading.Barrier(2), []

    def start():
        try:
            barrier.wait()
            cycle_start(project=judged, user=users["admin"], snapshot_config=SNAPSHOT, run_config_yaml=UNUSED)
            outcomes.append("started")
        except Conflict:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "started"]
    assert Cycle.objects.filter(project=judged, status="queued").count() == 1


def test_a_failed_step_fails_the_cycle_and_a_retry_redoes_only_that_step(with_eval, users, tiny, tmp_path):
    judged = with_eval
    missing = tmp_path / "no-such-model"
    cycle = cycle_start(
        project=judged, user=users["admin"], snapshot_config=SNAPSHOT, run_config_yaml=tiny_run_yaml(missing)
    )
    cycle.refresh_from_db()
    assert cycle.status == "failed" and cycle.step == "train"
    assert statuses(cycle) == {
        "snapshot": "succeeded",
        "train": "failed",
        "generate": "pending",
        "checks": "pending",
        "review": "pending",
        "decision": "pending",
    }
    assert "train failed: Run" in cycle.log and str(missing) in cycle.steps[1]["log"]
    assert not ModelVersion.objects.exists()
    snapshot, snapshot_step = cycle.snapshot, cycle.steps[0]

    cycle_retry(cycle=cycle, run_config_yaml=tiny_run_yaml(tiny))
    cycle.refresh_from_db()
    assert cycle.status == "waiting", cycle.log
    assert cycle.snapshot == snapshot and Snapshot.objects.count() == 1 and cycle.steps[0] == snapshot_step
    assert TrainingRun.objects.count() == 2 and cycle.run.status == "succeeded"
    assert statuses(cycle) == {**dict.fromkeys(cycles.STEPS, "succeeded"), "decision": "waiting"}
    with pytest.raises(Conflict, match="only a failed cycle"):
        cycle_retry(cycle=cycle)
