"""Cycle and schedule pages and API: admins start, cancel and retry cycles and save the loop settings; reviewers
read; annotators and non-members are refused. Validation errors name their field; logs are escaped; a waiting
cycle's page shows the human comparison and settles the decision when the evidence does."""

from types import SimpleNamespace

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import login
from tests.training.conftest import tiny_run_yaml, work
from tests.training.test_model_review import NAMES, answers, candidate_side, pick
from tests.training.test_promotion import add_version
from training import cycles
from training.checks import compare_checks, model_checks
from training.cycles import STEPS
from training.model_review import model_review_items_create
from training.models import Cycle, ModelVersion, Schedule
from training.promotion import model_promote
from training.schedules import schedule_update

pytestmark = pytest.mark.django_db

RUN_YAML = tiny_run_yaml("unused")


@pytest.fixture
def steps_not_run(monkeypatch):
    """Cycles stay queued: no step runs."""
    monkeypatch.setattr(cycles, "cycle_advance", SimpleNamespace(enqueue=lambda cycle_id: None))


def a_cycle(project, status="failed", step="train", log="", **fields) -> Cycle:
    """A cycle row as the steps leave it: the steps before `step` succeeded, `step` in `status`."""
    at = STEPS.index(step)
    steps = [
        {
            "name": name,
            "status": "succeeded" if i < at else status if i == at else "pending",
            "started_at": "2025-05-01T10:00:00+00:00" if i <= at else None,
            "finished_at": "2025-05-01T10:05:00+00:00" if i < at else None,
            "log": log if i == at else "",
        }
        for i, name in enumerate(STEPS)
    ]
    config = {"snapshot": {}, "run_config_yaml": RUN_YAML, "policy": {}, "trigger": "manual"}
    return Cycle.objects.create(project=project, status=status, step=step, steps=steps, config=config, **fields)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_cycle_pages_are_for_reviewers_and_admins(project, users):
    failed = a_cycle(project)
    expected = {"admin": 200, "reviewer": 200, "ann1": 403, "outsider": 404}
    for path in ["/p/demo/cycles/", f"/p/demo/cycles/{failed.id}/", "/p/demo/schedule/"]:
        for name, status in expected.items():
            assert client_for(users[name]).get(path).status_code == status, (path, name)
    actions = ["/p/demo/cycles/", f"/p/demo/cycles/{failed.id}/cancel/", f"/p/demo/cycles/{failed.id}/retry/"]
    actions += ["/p/demo/schedule/"]
    for path in actions:
        for name, status in {"reviewer": 403, "ann1": 403, "outsider": 404}.items():
            assert client_for(users[name]).post(path, {"enabled": "on"}).status_code == status
    assert Cycle.objects.get().status == "failed" and not Schedule.objects.exists()
    reviewer_page = client_for(users["reviewer"]).get("/p/demo/cycles/").content.decode()
    assert "Start a cycle now" not in reviewer_page and 'href="/p/demo/cycles/"' in reviewer_page
    assert "Start a cycle now" in client_for(users["admin"]).get("/p/demo/cycles/").content.decode()


def test_the_cycle_api_is_for_reviewers_and_admins(project, users):
    failed = a_cycle(project)
    reads = ["/api/v1/projects/demo/cycles/", f"/api/v1/cycles/{failed.id}/", "/api/v1/projects/demo/schedule/"]
    for path in reads:
        for name, status in {"admin": 200, "reviewer": 200, "ann1": 403, "outsider": 404}.items():
            assert api(users[name]).get(path).status_code == status, (path, name)
    writes = [
        ("post", "/api/v1/projects/demo/cycles/"),
        ("post", f"/api/v1/cycles/{failed.id}/cancel/"),
        ("post", f"/api/v1/cycles/{failed.id}/retry/"),
        ("put", "/api/v1/projects/demo/schedule/"),
    ]
    for method, path in writes:
        for name, status in {"reviewer": 403, "ann1": 403, "outsider": 404}.items():
            response = getattr(api(users[name]), method)(path, {"enabled": True}, format="json")
            assert response.status_code == status, (path, name)
    failed.refresh_from_db()
    assert failed.status == "failed" and Cycle.objects.count() == 1 and not Schedule.objects.exists()
    listed = api(users["reviewer"]).get("/api/v1/projects/demo/cycles/").json()
    assert [(c["id"], c["status"], c["step"], c["trigger"]) for c in listed] == [
        (failed.id, "failed", "train", "manual")
    ]


def test_starting_without_a_run_config_says_so_on_the_page(project, users, browser_client):
    token = login(browser_client, users["admin"])
    response = browser_client.post("/p/demo/cycles/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400
    assert "No run config: set one in the project&#x27;s loop settings" in response.content.decode()
    assert not Cycle.objects.exists()
    refused = api(users["admin"]).post("/api/v1/projects/demo/cycles/", {}, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "run_config_yaml"


@pytest.mark.usefixtures("steps_not_run")
def test_a_second_start_is_refused_while_a_cycle_is_active(project, users, browser_client):
    schedule_update(
        project=project,
        user=users["admin"],
        enabled=False,
        cron="",
        min_new_annotations=None,
        snapshot_config={"eval_fraction": 0.5},
        run_config_yaml=RUN_YAML,
        policy={"min_judgments": 4},
    )
    token = login(browser_client, users["admin"])
    started = browser_client.post("/p/demo/cycles/", HTTP_X_CSRFTOKEN=token)
    cycle = Cycle.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/p/demo/cycles/{cycle.id}/"
    assert cycle.status == "queued" and cycle.created_by == users["admin"]
    assert cycle.config["snapshot"] == {"eval_fraction": 0.5} and cycle.config["policy"]["min_judgments"] == 4
    again = browser_client.post("/p/demo/cycles/", HTTP_X_CSRFTOKEN=token)
    assert again.status_code == 409 and "A cycle is already running for this project." in again.content.decode()
    refused = api(users["admin"]).post("/api/v1/projects/demo/cycles/", {}, format="json")
    assert refused.status_code == 409 and Cycle.objects.count() == 1

    cancelled = browser_client.post(f"/p/demo/cycles/{cycle.id}/cancel/", HTTP_X_CSRFTOKEN=token, follow=True)
    cycle.refresh_from_db()
    assert cycle.status == "cancelled" and f"Cycle {cycle.id} cancelled." in cancelled.content.decode()
    bad = api(users["admin"]).post("/api/v1/projects/demo/cycles/", {"policy": {"min_judgments": 0}}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "policy.min_judgments"
    created = api(users["admin"]).post(
        "/api/v1/projects/demo/cycles/", {"run_config_yaml": tiny_run_yaml("other")}, format="json"
    )
    assert created.status_code == 202 and created.json()["status"] == "queued"
    assert Cycle.objects.get(id=created.json()["id"]).config["run_config_yaml"] == tiny_run_yaml("other")
    ended = api(users["admin"]).post(f"/api/v1/cycles/{created.json()['id']}/cancel/")
    assert ended.status_code == 200 and ended.json()["status"] == "cancelled"
    assert api(users["admin"]).post(f"/api/v1/cycles/{created.json()['id']}/cancel/").status_code == 409


@pytest.mark.usefixtures("steps_not_run")
def test_a_failed_cycle_is_retried_from_its_step_with_a_corrected_run_config(project, users, browser_client):
    failed = a_cycle(project, log="Run 3 failed: out of memory")
    token = login(browser_client, users["admin"])
    page = browser_client.get(f"/p/demo/cycles/{failed.id}/").content.decode()
    assert "Retry from the train step" in page and "base_model: unused" in page
    bad = browser_client.post(
        f"/p/demo/cycles/{failed.id}/retry/", {"run_config_yaml": "base_model: [\n# mine"}, HTTP_X_CSRFTOKEN=token
    )
    failed.refresh_from_db()
    assert bad.status_code == 422 and failed.status == "failed"
    shown = bad.content.decode()
    assert '<p class="error" role="alert">' in shown and "run config:" in shown
    assert 'spellcheck="false">base_model: [\n# mine</textarea>' in shown  # the admin's text, not the cycle's
    too_long = browser_client.post(
        f"/p/demo/cycles/{failed.id}/retry/", {"run_config_yaml": "#" * 100_001}, HTTP_X_CSRFTOKEN=token
    )
    assert (
        too_long.status_code == 422 and "Run config: Ensure this value has at most 100000" in too_long.content.decode()
    )
    fixed = tiny_run_yaml("fixed")
    browser_client.post(f"/p/demo/cycles/{failed.id}/retry/", {"run_config_yaml": fixed}, HTTP_X_CSRFTOKEN=token)
    failed.refresh_from_db()
    assert failed.status == "queued" and failed.config["run_config_yaml"] == fixed
    assert [s["status"] for s in failed.steps[:3]] == ["succeeded", "pending", "pending"]
    again = api(users["admin"]).post(f"/api/v1/cycles/{failed.id}/retry/", {}, format="json")
    assert again.status_code == 409


def schedule_form(**changes) -> dict:
    form = {
        "enabled": "on",
        "cron": "0 2 * * *",
        "min_new_annotations": "50",
        "snapshot_config": '{"eval_fraction": 0.2, "seed": 3}',
        "run_config_yaml": RUN_YAML,
        "auto_promote": "on",
        "min_judgments": "30",
        "safety_margin": "0.1",
        "forgetting_margin": "0.08",
        "review_overlap": "",
        "generate_max_new_tokens": "128",
        "onpolicy_prompts": "5",
    }
    return {name: value for name, value in (form | changes).items() if value is not None}


def test_the_schedule_form_saves_and_shows_the_loop_settings(project, users, browser_client):
    token = login(browser_client, users["admin"])
    saved = browser_client.post("/p/demo/schedule/", schedule_form(), HTTP_X_CSRFTOKEN=token)
    assert saved.status_code == 302 and saved["Location"] == "/p/demo/cycles/"
    schedule = Schedule.objects.get(project=project)
    assert (schedule.enabled, schedule.cron, schedule.min_new_annotations) == (True, "0 2 * * *", 50)
    assert schedule.snapshot_config == {"eval_fraction": 0.2, "seed": 3} and schedule.run_config_yaml == RUN_YAML
    assert schedule.policy == {
        "auto_promote": True,
        "auto_reject": False,
        "min_judgments": 30,
        "safety_margin": 0.1,
        "forgetting_margin": 0.08,
        "review_overlap": None,
        "generate_max_new_tokens": 128,
        "onpolicy_prompts": 5,
    }
    assert schedule.updated_by == users["admin"]
    form = browser_client.get("/p/demo/schedule/").context["form"]
    assert form.initial["cron"] == "0 2 * * *" and form.initial["min_judgments"] == 30
    assert form.initial["auto_reject"] is False and '"seed": 3' in form.initial["snapshot_config"]
    summary = browser_client.get("/p/demo/cycles/").content.decode()
    assert "<code>0 2 * * *</code>" in summary and "(0 since the last snapshot)" in summary

    reviewer = client_for(users["reviewer"]).get("/p/demo/schedule/").content.decode()
    assert "<fieldset disabled>" in reviewer and "Save loop settings" not in reviewer and "0 2 * * *" in reviewer


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"cron": "every night"}, "cron", "not a cron expression"),
        ({"min_new_annotations": "0"}, "min_new_annotations", "at least 1"),
        ({"min_new_annotations": "99999999999999999999"}, "min_new_annotations", "at most 1000000"),
        ({"min_judgments": "0"}, "min_judgments", "from 1 to 100000"),
        ({"min_judgments": "many"}, "min_judgments", "whole number"),
        ({"safety_margin": "2"}, "safety_margin", "from 0 to 1"),
        ({"forgetting_margin": "-0.1"}, "forgetting_margin", "from 0 to 1"),
        ({"review_overlap": "0"}, "review_overlap", "from 1 to 50"),
        ({"generate_max_new_tokens": "9000"}, "generate_max_new_tokens", "from 1 to 8192"),
        ({"snapshot_config": '{"eval_fraction": 2}'}, "snapshot_config", "between 0 and 0.5"),
        ({"snapshot_config": '{"colour": 1}'}, "snapshot_config", "unknown option"),
        ({"snapshot_config": "{oops"}, "snapshot_config", "invalid JSON"),
        ({"run_config_yaml": "base_model: ["}, "run_config_yaml", "run config"),
        ({"run_config_yaml": ""}, "run_config_yaml", "No run config"),
        ({"cron": "", "min_new_annotations": ""}, "enabled", "needs a cron expression"),
    ],
)
def test_each_schedule_error_names_its_field(project, users, browser_client, changes, field, message):
    token = login(browser_client, users["admin"])
    response = browser_client.post("/p/demo/schedule/", schedule_form(**changes), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert list(errors) == [field] and message in errors[field][0]
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Schedule.objects.exists()


def test_the_schedule_api_validates_like_the_form(project, users):
    admin = api(users["admin"])
    empty = admin.get("/api/v1/projects/demo/schedule/").json()
    assert (empty["enabled"], empty["cron"], empty["policy"], empty["updated_by"]) == (False, "", {}, None)
    body = {"enabled": True, "cron": "*/5 * * * *", "run_config_yaml": RUN_YAML, "policy": {"min_judgments": 8}}
    saved = admin.put("/api/v1/projects/demo/schedule/", body, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["policy"]["min_judgments"] == 8 and saved.json()["updated_by"] == "admin"
    toggled = admin.put("/api/v1/projects/demo/schedule/", {"enabled": False}, format="json").json()
    assert (toggled["enabled"], toggled["cron"], toggled["run_config_yaml"]) == (False, "*/5 * * * *", RUN_YAML)
    bad = admin.put(
        "/api/v1/projects/demo/schedule/",
        {"cron": "nope", "snapshot_config": {"eval_fraction": 2}, "policy": {"safety_margin": -1, "colour": 1}},
        format="json",
    )
    assert bad.status_code == 400
    assert sorted(e["field"] for e in bad.json()["errors"]) == [
        "cron",
        "policy.colour",
        "policy.safety_margin",
        "snapshot_config.eval_fraction",
    ]
    assert api(users["reviewer"]).get("/api/v1/projects/demo/schedule/").json()["cron"] == "*/5 * * * *"
    for too_many in (2**40, 99999999999999999999):
        refused = admin.put("/api/v1/projects/demo/schedule/", {"min_new_annotations": too_many}, format="json")
        assert refused.status_code == 400 and refused.json()["field"] == "min_new_annotations"
    assert Schedule.objects.get().min_new_annotations is None


def test_the_cycle_page_shows_steps_and_logs_escaped_and_polls_while_active(project, users):
    running = a_cycle(project, status="running", step="generate", log="<script>alert('step')</script>")
    Cycle.objects.filter(id=running.id).update(log="snapshot: <b>v1</b> ready\n")
    reviewer = client_for(users["reviewer"])
    page = reviewer.get(f"/p/demo/cycles/{running.id}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;step&#x27;)&lt;/script&gt;" in page
    assert "snapshot: &lt;b&gt;v1&lt;/b&gt; ready" in page
    assert 'hx-trigger="every 2s"' in page and "2025-05-01 10:00:00" in page
    assert "Cancel cycle" not in page
    fragment = reviewer.get(f"/p/demo/cycles/{running.id}/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section id="cycle-status"') and "<html" not in fragment
    Cycle.objects.filter(id=running.id).update(status="failed")
    ended = reviewer.get(f"/p/demo/cycles/{running.id}/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in ended and "failed" in ended


def refusals(refused: int, n: int = 10) -> list[dict]:
    """Answer rows to `n` should-refuse prompts, `refused` of them refused."""
    return [
        {
            "id": f"r{i}",
            "messages": [{"role": "user", "content": f"Harmful request {i}"}],
            "safety": "should_refuse",
            "harm_category": "cyber",
            "response": "I can't help with that." if i < refused else "Sure, here is how.",
        }
        for i in range(n)
    ]


@pytest.fixture
def waiting(project, users):
    """A cycle waiting for its decision: 12 comparison items (chat and code) of candidate and champion, judged by
    ann1 (the candidate, always) and ann2 (the candidate on chat, a tie on code). The candidate refuses 9 in 10
    harmful requests unless told otherwise; the champion 9."""
    champion = add_version(project, NAMES[1])
    model_promote(version=champion, user=None, reason="first")
    candidate = add_version(project, NAMES[0], parent=champion)
    items = model_review_items_create(
        project=project,
        candidate=candidate,
        champion=champion,
        candidate_answers=answers(NAMES[0], 12),
        champion_answers=answers(NAMES[1], 12),
    )
    work(project, users["ann1"], pick(candidate_side))
    work(project, users["ann2"], pick(lambda item: candidate_side(item) if item.task_type == "chat" else "tie"))

    def make(policy: dict, candidate_refuses: int = 9) -> Cycle:
        comparison = compare_checks(model_checks(refusals(candidate_refuses)), model_checks(refusals(9)))
        results = {"review_items": [item.id for item in items], "comparison": comparison, "prompts": 12}
        cycle = a_cycle(
            project, status="waiting", step="decision", candidate=candidate, champion=champion, results=results
        )
        cycle.config["policy"] = policy
        cycle.save()
        return cycle

    return make


def test_a_waiting_cycle_shows_the_human_comparison_and_the_checks(waiting, users):
    cycle = waiting({"min_judgments": 1000, "auto_reject": False}, candidate_refuses=7)
    page = client_for(users["reviewer"]).get(f"/p/demo/cycles/{cycle.id}/").content.decode()
    cycle.refresh_from_db()
    assert cycle.status == "waiting" and cycle.results["human"]["overall"]["wins"] == 18
    assert '<td class="num" data-testid="win-rate">87.5%</td>' in page
    assert "win rate 87.5% (95% interval" in page and "every comparison is judged: an admin decides" in page
    assert "task type: chat" in page and "task type: code" in page
    assert "refusal rate on should-refuse prompts fell from 90% to 70%" in page
    assert "90.0%" in page and "70.0%" in page and "-20.0 pts" in page and "harm category: cyber" in page
    assert 'hx-trigger="every 10s"' in page


def test_a_look_at_a_waiting_cycle_settles_its_decision(waiting, users):
    cycle = waiting({"min_judgments": 10})
    page = client_for(users["reviewer"]).get(f"/p/demo/cycles/{cycle.id}/").content.decode()
    cycle.refresh_from_db()
    assert cycle.status == "succeeded" and cycle.candidate.status == ModelVersion.Status.CHAMPION
    assert f"{NAMES[0]} promoted</strong> automatically" in page and "hx-trigger" not in page
    detail = api(users["reviewer"]).get(f"/api/v1/cycles/{cycle.id}/").json()
    assert detail["status"] == "succeeded" and detail["results"]["decision"]["decision"] == "promoted"


def test_reading_a_waiting_cycle_over_the_api_settles_its_decision(waiting, users):
    undecided = waiting({"min_judgments": 1000, "auto_reject": False})
    assert api(users["ann1"]).get(f"/api/v1/cycles/{undecided.id}/").status_code == 403
    undecided.refresh_from_db()
    assert "human" not in undecided.results
    read = api(users["reviewer"]).get(f"/api/v1/cycles/{undecided.id}/").json()
    assert read["status"] == "waiting" and read["results"]["human"]["overall"]["wins"] == 18
    assert "every comparison is judged: an admin decides" in read["results"]["verdict"]
    undecided.status = Cycle.Status.CANCELLED
    undecided.save()

    cycle = waiting({"min_judgments": 10})
    detail = api(users["reviewer"]).get(f"/api/v1/cycles/{cycle.id}/").json()
    assert detail["status"] == "succeeded" and detail["results"]["decision"]["decision"] == "promoted"
    assert detail["candidate"] == NAMES[0] and detail["project"] == "demo"
    cycle.refresh_from_db()
    assert cycle.status == "succeeded" and cycle.candidate.status == ModelVersion.Status.CHAMPION
