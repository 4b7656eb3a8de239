"""An admin starts an improvement cycle from the browser, sees it wait for the human comparison, and, once
annotators have judged the candidate better, sees it promoted. Tasks run inline in the test settings, so the start
button returns once the cycle has trained the tiny model and is waiting."""

import uuid

import pytest

from annotation.assignment import annotation_submit, assignment_next
from tests.browser.conftest import log_in, shot
from tests.training.conftest import judged, one_thread_offline, tiny_run_yaml  # noqa: F401 - judged is a fixture
from tests.training.test_cycles import with_eval  # noqa: F401 - a fixture
from training.models import Cycle
from training.pipeline.tiny_model import build_tiny_model
from training.schedules import schedule_update

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_media")]


@pytest.fixture
def fresh_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def tiny(tmp_path):
    with one_thread_offline():
        yield build_tiny_model(tmp_path / "tiny", ["hello there, how are you"] * 20)


def judge_for_the_candidate(cycle: Cycle, user) -> int:
    """`user` judges every comparison item of the cycle they are offered, picking the candidate's response (and
    the first answer of the loop's new preference pairs); returns how many comparisons they judged."""
    count = 0
    while (assignment := assignment_next(project=cycle.project, user=user)) is not None:
        item = assignment.item
        choice = item.meta["model_review"]["sides"].index(cycle.candidate_id) if item.kind == "model_review" else 0
        payload = {"choice": choice, "strength": "clear"}
        annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)
        count += item.kind == "model_review"
    return count


def test_an_admin_starts_a_cycle_and_sees_the_candidate_promoted(page, live_server, with_eval, users, tiny):  # noqa: F811
    schedule_update(
        project=with_eval,
        user=users["admin"],
        enabled=False,
        cron="",
        min_new_annotations=None,
        snapshot_config={"eval_fraction": 0.5},
        run_config_yaml=tiny_run_yaml(tiny),
        policy={"review_overlap": 1, "min_judgments": 2},
    )
    page.set_default_timeout(120_000)
    log_in(page, live_server, "admin", "pw-admin")
    page.goto(f"{live_server.url}/p/demo/snapshots/")
    page.click("text=Cycles")
    page.wait_for_selector("text=No cycles yet.")
    page.click("text=Start a cycle now")
    page.wait_for_url(f"{live_server.url}/p/demo/cycles/*/")
    status = page.locator("[data-testid=cycle-status]")
    assert status.inner_text() == "waiting", page.locator("#log-heading + pre").inner_text()
    page.wait_for_selector("text=waiting for the human comparison")
    shot(page, "cycle-waiting")

    cycle = Cycle.objects.select_related("project").get()
    assert judge_for_the_candidate(cycle, users["ann1"]) == len(cycle.results["review_items"]) >= 2
    page.reload()
    page.wait_for_selector("[data-testid=decision]")
    assert status.inner_text() == "succeeded"
    decision = page.locator("[data-testid=decision]").inner_text()
    assert decision.startswith(f"{cycle.candidate.name} promoted automatically: win rate 100.0%"), decision
    shot(page, "cycle-promoted")
    page.click("text=All cycles")
    page.wait_for_selector(f"table >> text={cycle.candidate.name}")
    shot(page, "cycles-after-promotion")
    page.click("text=Edit the loop settings")
    assert page.input_value("#id_min_judgments") == "2" and page.input_value("#id_review_overlap") == "1"
    shot(page, "loop-settings")
