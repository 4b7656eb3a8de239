"""The whole loop on the CPU with a tiny offline model: annotations → a scheduled cycle (snapshot → SFT → DPO →
candidate → generation → checks → model_review items) → judgments through the real submit service → win rate →
automatic promotion by the scheduler, whose same tick starts a second cycle trained from the promoted champion."""

import pytest

from annotation.authoring import paraphrase_add
from annotation.models import Item
from tests.training.conftest import tiny_run_yaml, work
from tests.training.test_cycles import SNAPSHOT, answer, tiny, with_eval  # noqa: F401 - fixtures
from training.models import Cycle, ModelVersion, Schedule
from training.scheduler import scheduler_tick

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_media")]


def prefer_candidate(cycle):
    def judge(item):
        if item.kind == "preference":
            return {"choice": 0, "strength": "clear"}
        if item.kind != "model_review":
            return answer(item)
        sides = item.meta["model_review"]["sides"]
        return {"choice": sides.index(cycle.candidate_id), "strength": "clear"}

    return judge


def test_annotations_to_a_promoted_champion_and_a_second_cycle_from_it(with_eval, users, tiny):  # noqa: F811
    project = with_eval
    for item in Item.objects.filter(project=project, task_type="chat"):
        paraphrase_add(item=item, user=users["ann1"], text=f"Please, {item.prompt.lower()}")
    policy = {"min_judgments": 2, "review_overlap": 2, "generate_max_new_tokens": 24}
    # a learning rate high enough that two steps change what the tiny model says
    steps = {"max_steps": 2, "batch_size": 2, "learning_rate": 0.05}
    Schedule.objects.create(
        project=project,
        enabled=True,
        min_new_annotations=1,
        snapshot_config=SNAPSHOT,
        run_config_yaml=tiny_run_yaml(tiny, sft=steps, dpo=steps),
        policy=policy,
        updated_by=users["admin"],
    )

    assert scheduler_tick()["started"]
    first = Cycle.objects.get()
    assert first.status == "waiting", first.log
    assert first.config["trigger"].startswith("schedule: ") and first.champion.name == "demo-base"
    candidate = first.candidate
    checks = first.results["checks"]["candidate"]["overall"]
    assert checks["refusal"]["n"] > 0 and checks["consistency"]["n"] > 0
    assert first.results["comparison"]["rates"]["refusal"]["overall"]["champion"] is not None
    onpolicy = Item.objects.filter(id__in=first.results["onpolicy_items"], kind="preference")
    assert onpolicy.exists() and {item.meta["origin"] for item in onpolicy} == {"on_policy"}
    review = Item.objects.filter(id__in=first.results["review_items"])
    assert review.count() >= 2 and {item.open_slots for item in review} == {2}, first.log

    assert scheduler_tick()["decided"] == []  # nobody has judged yet
    for name in ("ann1", "ann2"):
        work(project, users[name], prefer_candidate(first))
    tick = scheduler_tick()  # settles the first cycle, then starts the next: the judgments are new annotations
    assert tick["decided"] == [first.id] and len(tick["started"]) == 1
    first.refresh_from_db()
    candidate.refresh_from_db()
    assert first.status == "succeeded" and first.results["decision"]["decision"] == "promoted"
    human = first.results["human"]["overall"]
    assert human["wins"] == human["n"] == 2 * review.count() and human["interval"][0] > 0.5
    assert candidate.status == "champion" and candidate.decisions.get().automatic
    assert ModelVersion.objects.get(name="demo-base").status == "retired"

    second = Cycle.objects.get(id=tick["started"][0])
    assert second.status == "waiting", second.log
    assert second.champion == candidate and second.run.parent_model == candidate
    assert second.candidate.parent == candidate and second.candidate.name == "demo-m2"
