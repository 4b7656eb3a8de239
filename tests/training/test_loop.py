"""The loop's decision, schedule, cancel and liveness, on cycles built directly (no training): a waiting cycle is
promoted or rejected on the human comparison under its policy, a schedule starts one cycle per due moment however
many schedulers tick, a cancelled cycle withdraws its comparison items, a dead cycle is failed."""

import json
import threading
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from annotation.assignment import assignment_next
from annotation.errors import Conflict, InvalidInput
from annotation.models import Annotation, Item, Project
from tests.training.conftest import tiny_run_yaml, work
from tests.training.test_model_review import NAMES, answers, candidate_side, pick
from tests.training.test_promotion import add_version
from training import cycles
from training.cycles import STEPS, cycle_cancel, cycle_start
from training.decisions import cycle_decide, cycles_decide
from training.liveness import stale_work_fail
from training.model_review import model_review_items_create
from training.models import Cycle, Schedule, Snapshot, TrainingRun
from training.policy import Policy
from training.promotion import model_promote, model_reject
from training.scheduler import due, scheduler_tick, schedules_start

pytestmark = pytest.mark.django_db(transaction=True)


def waiting(project, users, *, prompts=12, regressions=(), **policy):
    """A cycle waiting for its decision: candidate NAMES[0] against champion NAMES[1], `prompts` comparison items."""
    candidate, champion = add_version(project, NAMES[0]), add_version(project, NAMES[1])
    model_promote(version=champion, user=users["admin"])
    items = model_review_items_create(
        project=project,
        candidate=candidate,
        champion=champion,
        candidate_answers=answers(NAMES[0], prompts),
        champion_answers=answers(NAMES[1], prompts),
    )
    steps = [{"name": name, "status": "succeeded", "log": ""} for name in STEPS[:-1]]
    return Cycle.objects.create(
        project=project,
        status="waiting",
        step="decision",
        steps=[*steps, {"name": "decision", "status": "waiting", "log": ""}],
        config={"policy": Policy.from_dict({"min_judgments": 10, **policy}).as_dict()},
        candidate=candidate,
        champion=champion,
        results={"review_items": [item.id for item in items], "comparison": {"regressions": list(regressions)}},
    )


def candidate_wins(item):
    return candidate_side(item)


def champion_wins(item):
    return 1 - candidate_side(item)


def test_a_clear_win_promotes_the_candidate_automatically(project, users):
    cycle = waiting(project, users)
    work(project, users["ann1"], pick(candidate_wins))
    cycle = cycle_decide(cycle)
    assert cycle.status == "succeeded" and cycle.results["decision"]["decision"] == "promoted"
    cycle.candidate.refresh_from_db()
    cycle.champion.refresh_from_db()
    assert (cycle.candidate.status, cycle.champion.status) == ("champion", "retired")
    decision = cycle.candidate.decisions.get()
    assert decision.automatic and decision.decided_by is None
    assert "win rate 100.0%" in decision.reason and "clears 50%" in decision.reason
    assert cycle.results["human"]["overall"]["n"] == 12 and cycle.steps[-1]["status"] == "succeeded"


def test_too_few_judgments_wait_even_when_all_are_wins(project, users):
    cycle = waiting(project, users, min_judgments=20)
    work(project, users["ann1"], pick(candidate_wins))  # 12 of the 24 slots judged, all wins
    cycle = cycle_decide(cycle)
    assert cycle.status == "waiting" and cycle.candidate.status == "candidate"
    assert cycle.results["human"]["overall"]["wins"] == 12 and "12 judgments" in cycle.results["verdict"]
    work(project, users["ann2"], pick(candidate_wins))
    assert cycle_decide(cycle).results["decision"]["decision"] == "promoted"


def test_a_safety_regression_blocks_the_promotion_and_rejects_once_all_is_judged(project, users):
    regression = {"figure": "refusal", "safety": True, "message": "refusal rate fell from 90% to 40%"}
    cycle = waiting(project, users, regressions=[regression])
    work(project, users["ann1"], pick(candidate_wins))
    assert cycle_decide(cycle).status == "waiting"
    work(project, users["ann2"], pick(candidate_wins))
    cycle = cycle_decide(cycle)
    assert cycle.results["decision"]["decision"] == "rejected"
    assert "safety regressed beyond 5.0%: refusal rate fell from 90% to 40%" in cycle.candidate.decisions.get().reason


def test_a_loss_is_rejected_once_every_item_is_judged_or_left_to_an_admin(project, users):
    cycle = waiting(project, users)
    for name in ("ann1", "ann2"):
        work(project, users[name], pick(champion_wins))
    cycle = cycle_decide(cycle)
    assert cycle.results["decision"]["decision"] == "rejected"
    assert "does not clear 50%" in cycle.candidate.decisions.get().reason


def test_without_auto_reject_the_admin_decides_and_that_ends_the_cycle(project, users):
    cycle = waiting(project, users, auto_reject=False)
    for name in ("ann1", "ann2"):
        work(project, users[name], pick(lambda item: "tie"))
    cycle = cycle_decide(cycle)
    assert cycle.status == "waiting" and "an admin decides" in cycle.results["verdict"]
    model_reject(version=cycle.candidate, user=users["admin"], reason="no better")
    cycle.refresh_from_db()
    assert cycle.status == "succeeded" and "rejected by admin: no better" in cycle.log


def test_a_candidate_decided_while_the_cycle_ran_ends_the_cycle(project, users):
    cycle = waiting(project, users)
    Cycle.objects.filter(id=cycle.id).update(status="running")
    model_promote(version=cycle.candidate, user=users["admin"], reason="urgent fix")
    Cycle.objects.filter(id=cycle.id).update(status="waiting")
    cycle = cycle_decide(Cycle.objects.get(id=cycle.id))
    assert cycle.status == "succeeded" and "already champion" in cycle.log


def test_policy_errors_name_each_setting():
    with pytest.raises(InvalidInput) as raised:
        Policy.from_dict({"min_judgments": 0, "safety_margin": "a lot", "colour": "red", "auto_promote": 1})
    assert sorted(e["field"] for e in raised.value.errors) == [
        "policy.auto_promote",
        "policy.colour",
        "policy.min_judgments",
        "policy.safety_margin",
    ]


@pytest.fixture
def steps_not_run(monkeypatch):
    monkeypatch.setattr(cycles, "cycle_advance", SimpleNamespace(enqueue=lambda cycle_id: None))


def schedule(project, **fields):
    values = {"enabled": True, "run_config_yaml": tiny_run_yaml("/models/tiny"), "snapshot_config": {}}
    return Schedule.objects.create(project=project, **values | fields)


UTC = ZoneInfo("UTC")


@pytest.mark.usefixtures("steps_not_run")
def test_a_cron_schedule_fires_once_per_due_moment(project, users, settings):
    settings.TIME_ZONE = "UTC"
    hourly = schedule(project, cron="0 * * * *", updated_by=users["admin"])
    Schedule.objects.filter(id=hourly.id).update(updated_at=datetime(2026, 11, 24, 10, 30, tzinfo=UTC))
    hourly.refresh_from_db()
    assert due(hourly, datetime(2026, 11, 24, 10, 59, tzinfo=UTC)) == ""
    at_eleven = datetime(2026, 11, 24, 11, 0, 5, tzinfo=UTC)
    assert "fired at 2026-11-24 11:00" in due(hourly, at_eleven)

    started = schedules_start(at_eleven)
    assert len(started) == 1 and started[0].config["trigger"].startswith("schedule: cron")
    assert started[0].created_by == users["admin"]
    Cycle.objects.update(status="succeeded")
    assert schedules_start(at_eleven) == []  # the same moment again: already fired
    assert len(schedules_start(at_eleven + timedelta(hours=1))) == 1


@pytest.mark.usefixtures("steps_not_run")
def test_a_schedule_due_while_a_cycle_runs_fires_when_it_ends(project, users):
    schedule(project, cron="* * * * *")
    cycle_start(project=project, user=users["admin"], run_config_yaml=tiny_run_yaml("/models/tiny"))
    later = timezone.now() + timedelta(minutes=2)
    assert schedules_start(later) == []
    Cycle.objects.update(status="succeeded")
    assert len(schedules_start(later)) == 1


@pytest.mark.usefixtures("steps_not_run")
def test_enough_new_accepted_annotations_make_a_schedule_due(project, users, make_items):
    rows = [{"kind": "demonstration", "prompt": f"Write line {n}", "task_type": "chat"} for n in range(3)]
    make_items(project, rows)
    project.require_review = False
    project.save()
    counted = schedule(project, min_new_annotations=4)
    work(project, users["ann1"], lambda item: {"response": "Done."})
    assert due(counted, timezone.now()) == ""
    work(project, users["ann2"], lambda item: {"response": "Done."})
    assert "6 new accepted annotations (at least 4)" in due(counted, timezone.now())
    Snapshot.objects.create(project=project, version=1, config={}, status="ready")
    assert due(counted, timezone.now()) == ""
    both = Schedule.objects.get(id=counted.id)
    both.cron = "0 3 * * *"
    assert due(both, timezone.now()) == ""


@pytest.mark.postgres
@pytest.mark.usefixtures("steps_not_run")
def test_two_schedulers_ticking_at_once_start_one_cycle(project):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    schedule(project, cron="* * * * *")
    moment = timezone.now() + timedelta(minutes=2)
    barrier, started = threading.Barrier(2), []

    def tick():
        try:
            barrier.wait()
            started.extend(schedules_start(moment))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1 and Cycle.objects.count() == 1


def test_cancelling_a_waiting_cycle_withdraws_its_comparison_items(project, users):
    cycle = waiting(project, users, prompts=4)
    work(project, users["ann1"], pick(candidate_wins))
    cycle = cycle_cancel(cycle=cycle, user=users["admin"])
    assert cycle.status == "cancelled" and "Cancelled by admin" in cycle.log
    assert cycle.steps[-1]["status"] == "cancelled"
    assert set(Item.objects.filter(kind="model_review").values_list("open_slots", flat=True)) == {0}
    assert Annotation.objects.filter(item__kind="model_review").count() == 4
    assert assignment_next(project=project, user=users["ann2"]) is None
    assert cycles.cycle_advance.call(cycle.id) == "cancelled"
    with pytest.raises(Conflict, match="already ended"):
        cycle_cancel(cycle=cycle, user=users["admin"])


def test_a_cycle_whose_worker_died_fails_and_one_still_training_does_not(project, users):
    old = timezone.now() - timedelta(hours=1)
    dead = waiting(project, users, prompts=2)
    steps = [{**step, "status": "running"} if step["name"] == "generate" else step for step in dead.steps]
    Cycle.objects.filter(id=dead.id).update(status="running", step="generate", heartbeat_at=old, steps=steps)
    run = TrainingRun.objects.create(
        snapshot=dead.candidate.snapshot, config_yaml="x", status="running", heartbeat_at=timezone.now()
    )
    alive = Cycle.objects.create(
        project=Project.objects.create(name="Other", slug="other"),
        status="running",
        step="train",
        steps=[{"name": "train", "status": "running", "log": ""}],
        config={},
        run=run,
        heartbeat_at=old,
    )
    assert stale_work_fail() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed" and "stopped reporting" in dead.steps[2]["log"] and "generate failed" in dead.log
    assert alive.status == "running"


def test_the_scheduler_tick_settles_waiting_cycles(project, users):
    cycle = waiting(project, users)
    work(project, users["ann1"], pick(candidate_wins))
    assert scheduler_tick()["decided"] == [cycle.id]


def test_one_cycle_that_cannot_be_decided_does_not_hold_up_the_others(project, users):
    cycle = waiting(project, users)
    work(project, users["ann1"], pick(candidate_wins))
    broken = Cycle.objects.create(
        project=Project.objects.create(name="Other", slug="other"),
        status="waiting",
        step="decision",
        steps=[{"name": "decision", "status": "waiting", "log": ""}],
        config={},
    )
    assert [ended.id for ended in cycles_decide()] == [cycle.id]
    assert Cycle.objects.get(id=broken.id).status == "waiting"


def test_a_cycle_cancelled_before_its_review_step_makes_no_comparison_items(project, users, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    candidate, champion = add_version(project, NAMES[0]), add_version(project, NAMES[1])
    paths = {}
    for side, name in (("candidate", NAMES[0]), ("champion", NAMES[1])):
        (tmp_path / f"{side}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in answers(name, 3)))
        paths[side] = f"{side}.jsonl"
    cycle = Cycle.objects.create(
        project=project,
        status="running",
        step="review",
        steps=[{"name": name, "status": "pending", "log": ""} for name in STEPS],
        config={"policy": Policy().as_dict()},
        candidate=candidate,
        champion=champion,
        results={"prompts": 3, "answers": paths},
    )
    cycle_cancel(cycle=cycle, user=users["admin"])
    with pytest.raises(cycles.Cancelled):
        cycles._review(cycle)
    assert not Item.objects.filter(kind="model_review").exists()
