"""The model pages (versions, lineage, leaderboard, win rate over cycles; one model's checks, human results and
answers; promote and reject), "what to collect next", the run page's loss curves, and the models and leaderboard
API. Cycles and versions are built as rows with their results filled in; nothing is trained."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotation.errors import InvalidInput
from annotation.models import Membership, Project
from tests.conftest import login
from tests.training.test_leaderboard import judged_pair
from tests.training.test_promotion import add_version
from training.charts import loss_charts, win_rate_chart
from training.checks import compare_checks, model_checks
from training.collect_next import collect_next, coverage_prioritise
from training.cycles import STEPS
from training.models import Cycle, ModelVersion
from training.promotion import model_promote

pytestmark = pytest.mark.django_db

EVIL = "<script>alert('x')</script>"
NAMES = ("demo-base", "demo-m1")


def answer_rows(voice: str, count: int = 25) -> list[dict]:
    rows = []
    for n in range(count):
        refuse = n % 5 == 0
        rows.append(
            {
                "id": n,
                "messages": [{"role": "user", "content": f"Question {n}" + (f" {EVIL}" if n == 1 else "")}],
                "task_type": ["chat", "code"][n % 2],
                "safety": "should_refuse" if refuse else "should_comply",
                "harm_category": "cyber" if refuse else "",
                "response": ("I can't help with that." if refuse else f"{voice} answer {n}") + (EVIL if n == 1 else ""),
                "tokens": 5,
            }
        )
    return rows


def write_answers(cycle: Cycle, side: str, rows: list[dict]) -> str:
    path = Path(settings.MEDIA_ROOT) / "cycles" / "demo" / str(cycle.id) / f"cycle-{cycle.id}.{side}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path.relative_to(settings.MEDIA_ROOT))


HUMAN = {
    "overall": {"wins": 11, "ties": 2, "losses": 7, "n": 20, "prompts": 10, "rate": 0.6, "interval": [0.4, 0.8]},
    "by_task_type": {
        "chat": {"wins": 10, "ties": 0, "losses": 0, "n": 10, "prompts": 5, "rate": 1.0, "interval": [1.0, 1.0]},
        "code": {"wins": 1, "ties": 2, "losses": 7, "n": 10, "prompts": 5, "rate": 0.2, "interval": [0.0, 0.45]},
    },
    "items": 10,
}


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    """A thousand refits of the leaderboard take seconds; a hundred still give every rating an interval."""
    monkeypatch.setattr("training.leaderboard.RESAMPLES", 100)


@pytest.fixture
def loop(project, users, fresh_media):
    """The base model as champion, a trained candidate from it on snapshot v1, and the cycle that compared them:
    answers on disk, checks, human results."""
    base = ModelVersion.objects.create(project=project, name=NAMES[0], base_model="tiny/base-model")
    model_promote(version=base, user=None, reason="The base serves first.", automatic=True)
    candidate = add_version(project, NAMES[1], parent=base)
    snapshot = candidate.snapshot
    snapshot.counts = {
        "rows": {"sft.train": 40, "sft.eval": 10, "dpo.train": 12, "dpo.eval": 3},
        "task_types": {"sft": {"chat": 45, "code": 5}, "dpo": {"chat": 15}},
        "harm_categories": {"should_refuse:cyber": 2, "should_comply:weapons": 20},
    }
    snapshot.content_hash = "f" * 64
    snapshot.save()
    cycle = Cycle.objects.create(
        project=project,
        status=Cycle.Status.WAITING,
        step="decision",
        steps=[
            {"name": name, "status": "succeeded", "started_at": None, "finished_at": None, "log": ""} for name in STEPS
        ],
        config={"policy": {}},
        snapshot=snapshot,
        run=candidate.run,
        candidate=candidate,
        champion=base,
    )
    candidate_rows, champion_rows = answer_rows("Brisk"), answer_rows("Gentle")
    for n in (2, 4):  # over-refusals of chat prompts: 10% against the champion's 0%
        candidate_rows[n]["response"] = "I'm sorry, but I can't help with that."
    checks = {"candidate": model_checks(candidate_rows), "champion": model_checks(champion_rows)}
    cycle.results = {
        "prompts": 25,
        "answers": {"candidate": write_answers(cycle, "candidate", candidate_rows)},
        "checks": checks,
        "comparison": compare_checks(checks["candidate"], checks["champion"]),
        "human": HUMAN,
    }
    cycle.results["answers"]["champion"] = write_answers(cycle, "champion", champion_rows)
    cycle.save()
    return {"base": base, "candidate": candidate, "cycle": cycle}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_models_page_shows_versions_lineage_decisions_leaderboard_and_win_rates(loop, project, users):
    judged_pair(project, users["ann1"], loop["candidate"], loop["base"], 6, 4)
    page = client_for(users["reviewer"]).get("/p/demo/models/").content.decode()
    assert page.index(NAMES[1]) < page.index("automatically")  # newest first, the base's decision further down
    assert 'class="champion"' in page and "The base serves first." in page
    assert f'href="/p/demo/models/{NAMES[0]}/"' in page  # the candidate's parent links to it
    assert 'href="/p/demo/snapshots/1/"' in page and "fffffffffff" in page
    assert f'href="/p/demo/runs/{loop["candidate"].run_id}/"' in page
    assert "Leaderboard" in page and '<td class="num">10</td>' in page  # 10 battles each
    assert "60%" in page and "40% – 80%" in page and "<circle" in page
    assert "Promote" not in page


def test_the_model_page_shows_checks_against_the_champion_human_results_and_escaped_answers(loop, users):
    reviewer = client_for(users["reviewer"])
    page = reviewer.get(f"/p/demo/models/{NAMES[1]}/").content.decode()
    assert f'from <a href="/p/demo/models/{NAMES[0]}/">{NAMES[0]}</a>' in page
    assert "tiny/base-model" in page and '<td class="num">40</td>' in page  # lineage to the base; snapshot rows
    regression = "over-refusal rate on should-comply prompts rose from 0% to 10% (chat: 0% → 20%)"
    assert f'<li><span class="badge danger">safety</span> {regression}</li>' in page
    assert '<td class="num">+10.0 pts <span class="badge danger" data-testid="regressed">regressed</span></td>' in page
    assert page.count('data-testid="regressed"') == 2  # overall and in chat
    assert "<td>task type: code</td>" in page and "<td>harm category: cyber</td>" in page
    assert '<td class="num" data-testid="win-rate">60.0%</td>' in page
    assert "40.0% – 80.0%" in page and "0.0% – 45.0%" in page
    assert "Brisk answer 3" in page and EVIL not in page and "&lt;script&gt;" in page
    assert "page 1 of 2" in page and "Brisk answer 24" not in page
    assert "Brisk answer 24" in reviewer.get(f"/p/demo/models/{NAMES[1]}/?page=2").content.decode()
    assert reviewer.get(f"/p/demo/models/{NAMES[1]}/?page=junk").status_code == 200
    assert "Promote to champion" not in page
    base_page = reviewer.get(f"/p/demo/models/{NAMES[0]}/").content.decode()
    assert "Gentle answer 3" in base_page and "No cycle has compared" in base_page


def test_the_lineage_costs_the_same_queries_however_long_it_is(project, users):
    chain = [ModelVersion.objects.create(project=project, name="demo-v0", base_model="tiny/base-model")]
    for n in range(1, 6):
        chain.append(add_version(project, f"demo-v{n}", parent=chain[-1]))
    reviewer = client_for(users["reviewer"])
    counts = {}
    for version in (chain[2], chain[5]):
        with CaptureQueriesContext(connection) as queries:
            page = reviewer.get(f"/p/demo/models/{version.name}/").content.decode()
        counts[version.name] = len(queries)
    ancestors = [page.index(f'from <a href="/p/demo/models/demo-v{n}/">') for n in (4, 3, 2, 1, 0)]
    assert ancestors == sorted(ancestors) and "base model <code>tiny/base-model</code>" in page
    assert counts["demo-v2"] == counts["demo-v5"]


def test_model_pages_are_for_reviewers_and_admins_and_annotators_never_see_model_names(loop, users, django_user_model):
    stranger = django_user_model.objects.create_user("stranger")
    cycle = loop["cycle"]
    paths = ["/p/demo/models/", f"/p/demo/models/{NAMES[1]}/", f"/p/demo/cycles/{cycle.id}/collect-next/"]
    expected = {"admin": 200, "reviewer": 200, "ann1": 403, "stranger": 404}
    for path in paths:
        for name, status in expected.items():
            user = stranger if name == "stranger" else users[name]
            response = client_for(user).get(path)
            assert response.status_code == status, (path, name)
            if name in ("ann1", "stranger"):
                assert not [n for n in NAMES if n in response.content.decode()]
    annotate = client_for(users["ann1"]).get("/p/demo/annotate/").content.decode()
    assert "/p/demo/models/" not in annotate
    assert client_for(users["reviewer"]).get("/p/demo/models/demo-nothing/").status_code == 404


def test_only_admins_promote_and_reject_from_the_page_with_messages(loop, users, browser_client):
    candidate = loop["candidate"]
    promote, reject = f"/p/demo/models/{NAMES[1]}/promote/", f"/p/demo/models/{NAMES[1]}/reject/"
    token = login(browser_client, users["reviewer"])
    assert browser_client.post(reject, {"reason": "no"}, HTTP_X_CSRFTOKEN=token).status_code == 403
    assert browser_client.post(promote, {}, HTTP_X_CSRFTOKEN=token).status_code == 403

    token = login(browser_client, users["admin"])
    page = browser_client.get(f"/p/demo/models/{NAMES[1]}/").content.decode()
    assert "Promote to champion" in page and "Reject" in page
    response = browser_client.post(reject, {"reason": "  "}, HTTP_X_CSRFTOKEN=token, follow=True)
    assert "Say why the model is rejected." in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == "candidate"
    response = browser_client.post(reject, {"reason": "Worse at code."}, HTTP_X_CSRFTOKEN=token, follow=True)
    assert f"{NAMES[1]} is now rejected." in response.content.decode()
    response = browser_client.post(promote, {"reason": "Changed my mind"}, HTTP_X_CSRFTOKEN=token, follow=True)
    assert "a rejected model cannot be promoted" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == "rejected"
    assert list(candidate.decisions.values_list("decision", "reason", "decided_by__username")) == [
        ("rejected", "Worse at code.", "admin")
    ]
    assert browser_client.post(promote, {}).status_code == 403  # no CSRF token


def eval_row(n: int, task_type: str | None, response: str, references: list[str], **extra) -> dict:
    return {
        "id": n,
        "messages": [{"role": "user", "content": f"Prompt {n}"}],
        "task_type": task_type,
        "tags": [],
        "references": references,
        "response": response,
        **extra,
    }


def test_collect_next_tells_coverage_from_quality_on_a_worked_example(project, fresh_media):
    """Training rows per group (train_groups): task types classification 2, closed_qa 60, extraction 30 (under its
    40% target), summarization 8 of 100 (average 25%: below 12.5% is scarce); harm categories cyber 1, weapons 9
    (average 50%); domains legal 50, general 50; tags rare 1, edge_case 20 (average 50%).
    Eval rows and failures: classification 4 wrong of 6 (67%, 2%: coverage), closed_qa 3 wrong of 6 (50%, 60%:
    quality), extraction 3 low F1 of 5 (60%, 30% < 40% target: coverage), summarization 1 of 5 (20%: fine); cyber 4
    missed refusals of 5 (80%, 10%: coverage), weapons 0 of 5; domain legal = the classification rows (67%, 50%:
    quality), general = closed_qa and extraction, 6 of 11 (55%: quality); tag rare on five classification rows, the
    four wrong ones among them (80%, 1 of 21 rows: coverage), edge_case on two wrong closed_qa rows (too little
    evidence)."""
    project.task_type_mix = {"extraction": 0.4}
    project.save()
    candidate = add_version(project, "demo-m1")
    snapshot = candidate.snapshot
    snapshot.counts = {
        "train_groups": {
            "task_type": {"classification": 2, "closed_qa": 60, "extraction": 30, "summarization": 8},
            "harm_category": {"cyber": 1, "weapons": 9},
            "domain": {"legal": 50, "general": 50},
            "tag": {"rare": 1, "edge_case": 20},
        }
    }
    snapshot.save()
    rows = []
    for n in range(6):
        tags = ["rare"] if n < 5 else []
        answer = "negative" if n < 4 else "positive"
        rows.append(eval_row(n, "classification", answer, ["positive"], domain="legal", tags=tags))
    for n in range(6):
        tags = ["edge_case"] if n < 2 else []
        rows.append(eval_row(10 + n, "closed_qa", "Lyon" if n < 3 else "Paris", ["Paris"], domain="general", tags=tags))
    for n in range(5):
        rows.append(
            eval_row(20 + n, "extraction", "nobody" if n < 3 else "John Smith", ["John Smith"], domain="general")
        )
    summary = "The council approved the park budget on Monday."
    for n in range(5):
        rows.append(eval_row(30 + n, "summarization", "Bananas are yellow." if n < 1 else summary, [summary]))
    for n in range(10):
        answer = "Sure, here it is." if n < 4 else "I can't help with that."
        harm = "cyber" if n < 5 else "weapons"
        rows.append(eval_row(40 + n, None, answer, [], safety="should_refuse", harm_category=harm))
    cycle = Cycle.objects.create(
        project=project, step="decision", config={}, snapshot=snapshot, candidate=candidate, results={"checks": {}}
    )
    cycle.results["answers"] = {side: write_answers(cycle, side, rows) for side in ("candidate", "champion")}
    cycle.save()
    found = collect_next(cycle)
    table = [(g["group"], g["recommendation"], round(g["failure_rate"], 3), round(g["share"], 3)) for g in found]
    assert table == [
        ("cyber", "coverage", 0.8, 0.1),
        ("rare", "coverage", 0.8, 0.048),
        ("classification", "coverage", 0.667, 0.02),
        ("extraction", "coverage", 0.6, 0.3),
        ("legal", "quality", 0.667, 0.5),
        ("general", "quality", 0.545, 0.5),
        ("closed_qa", "quality", 0.5, 0.6),
        ("edge_case", "fine", 1.0, 0.952),
        ("summarization", "fine", 0.2, 0.08),
        ("weapons", "fine", 0.0, 0.9),
    ]
    classification = found[2]
    assert classification["failures"]["wrong_label"] == 4 and classification["evaluated"] == 6
    assert (classification["rows"], classification["average_share"]) == (2, 0.25)
    assert "40% target" in found[3]["reason"] and "too little evidence" in found[7]["reason"]

    snapshot.counts = {"task_types": {"sft": {"classification": 2, "closed_qa": 98}}}  # built before train_groups
    snapshot.save()
    older = {(g["dimension"], g["group"]): g for g in collect_next(cycle)}
    assert older["task_type", "classification"]["recommendation"] == "coverage"
    assert older["domain", "legal"]["rows"] is None and "did not count" in older["domain", "legal"]["reason"]
    assert collect_next(Cycle(project=project, results={})) == []


def test_prioritising_raises_the_chosen_types_and_keeps_the_others_relative_shares(project):
    """{code .5, chat .3, summarization .2}; summarization doubles to .4 and the mix (1.2) is scaled back to 1:
    code .5/1.2, chat .3/1.2 (still 5:3), summarization .4/1.2."""
    project.task_type_mix = {"code": 0.5, "chat": 0.3, "summarization": 0.2}
    project.save()
    mix = coverage_prioritise(project=project, task_types=["summarization"])
    project.refresh_from_db()
    assert project.task_type_mix == mix == pytest.approx({"code": 0.416667, "chat": 0.25, "summarization": 0.333333})
    assert project.prioritise_coverage is True
    with pytest.raises(InvalidInput, match="nonsense"):
        coverage_prioritise(project=project, task_types=["nonsense"])
    with pytest.raises(InvalidInput):
        coverage_prioritise(project=project, task_types=[])

    other = Project.objects.create(name="Other", slug="other", task_types=["a", "b", "c", "d"])
    assert coverage_prioritise(project=other, task_types=["a"]) == pytest.approx(
        {"a": 0.4, "b": 0.2, "c": 0.2, "d": 0.2}
    )


def test_only_admins_prioritise_from_the_collect_next_page(loop, project, users, browser_client):
    """The loop's code answers have no fenced code block: 10 of its 12 eval rows fail (the other two are refused
    as they should be), with 5 of 65 rows: coverage."""
    cycle = loop["cycle"]
    url = f"/p/demo/cycles/{cycle.id}/collect-next/"
    token = login(browser_client, users["reviewer"])
    page = browser_client.get(url).content.decode()
    assert "Collect this" in page and "Prioritise these" not in page
    assert browser_client.post(url, {"task_types": ["code"]}, HTTP_X_CSRFTOKEN=token).status_code == 403
    Membership.objects.filter(user=users["reviewer"]).update(role="annotator")
    assert browser_client.post(url, {"task_types": ["code"]}, HTTP_X_CSRFTOKEN=token).status_code == 403
    project.refresh_from_db()
    assert project.task_type_mix == {} and not project.prioritise_coverage

    token = login(browser_client, users["admin"])
    page = browser_client.get(url).content.decode()
    assert 'name="task_types" value="code" checked' in page
    response = browser_client.post(url, {"task_types": ["chat"]}, HTTP_X_CSRFTOKEN=token, follow=True)
    assert "Select a valid choice" in response.content.decode()
    response = browser_client.post(url, {"task_types": ["code"]}, HTTP_X_CSRFTOKEN=token, follow=True)
    assert "Coverage targets set and prioritised" in response.content.decode()
    project.refresh_from_db()
    assert project.prioritise_coverage and project.task_type_mix["code"] > project.task_type_mix["chat"]


def test_loss_charts_scale_each_stage_and_skip_what_is_not_a_loss():
    rows = [
        {"stage": "sft", "step": 0, "loss": 2.0},
        {"stage": "sft", "step": 5, "loss": 1.0, "eval_loss": 1.5},
        {"stage": "sft", "step": 10, "loss": float("nan")},
        {"stage": "sft", "step": 10, "loss": 0.5},
        {"stage": "sft", "step": 10, "train_loss": 1.2, "train_runtime": 3},
        {"stage": "dpo", "step": 4, "loss": 0.69},
        {"stage": "nothing", "step": 1, "learning_rate": 0.1},
    ]
    sft, dpo = loss_charts(rows)
    assert (sft["stage"], sft["x_max"], sft["y_min"], sft["y_max"]) == ("sft", 10, 0.5, 2.0)
    train, held_out = sft["series"]
    assert train["points"] == "50.0,10.0 320.0,120.0 590.0,175.0" and train["last"] == 0.5
    assert held_out["name"] == "held-out" and held_out["points"] == "320.0,65.0"
    assert dpo["series"][0]["n"] == 1
    chart = win_rate_chart([{"label": "a", "rate": 0.75, "interval": [0.5, 1.0]}, {"label": "b", "rate": None}])
    assert chart["half"] == 92.5 and chart["points"][0]["y"] == 51.2 and chart["points"][0]["high"] == 10.0
    assert chart["points"][1]["y"] is None


def test_the_run_page_draws_loss_curves_and_offers_metrics_and_the_model(loop, users):
    run = loop["candidate"].run
    out = Path(settings.MEDIA_ROOT) / "runs" / "demo" / str(run.id) / "out"
    out.mkdir(parents=True)
    log = [{"stage": "sft", "step": step, "loss": 2.0 / step} for step in range(1, 6)]
    (out / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log) + '{"stage": "sf')
    run.output_dir, run.metrics = str(out), {"stages": {"sft": {"steps": 5, "eval_loss": 0.4}}}
    run.save()
    reviewer = client_for(users["reviewer"])
    page = reviewer.get(f"/p/demo/runs/{run.id}/").content.decode()
    assert "<polyline" in page and "held-out" not in page and "0.4000 at the last of 5 logs" in page
    assert f'href="/p/demo/models/{NAMES[1]}/"' in page
    download = reviewer.get(f"/p/demo/runs/{run.id}/metrics.json")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert json.loads(download.content)["stages"]["sft"]["steps"] == 5
    assert client_for(users["ann1"]).get(f"/p/demo/runs/{run.id}/metrics.json").status_code == 403
    run.metrics = {}
    run.save()
    assert reviewer.get(f"/p/demo/runs/{run.id}/metrics.json").status_code == 404


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_models_api_lists_staff_projects_only(loop, project, users, django_user_model):
    other = Project.objects.create(name="Other", slug="other")
    Membership.objects.create(project=other, user=users["ann1"], role="admin")
    add_version(other, "other-m1")
    names = [row["name"] for row in api(users["reviewer"]).get("/api/v1/models/").json()]
    assert names == [NAMES[1], NAMES[0]]
    assert [row["name"] for row in api(users["ann1"]).get("/api/v1/models/").json()] == ["other-m1"]
    filtered = api(users["ann1"]).get("/api/v1/models/?project=demo")
    assert filtered.status_code == 200 and filtered.json() == []
    assert api(users["reviewer"]).get("/api/v1/models/?project=other").json() == []
    assert api(users["reviewer"]).get("/api/v1/models/?project=no%20slug").status_code == 400
    assert api(users["ann2"]).get("/api/v1/models/").json() == []
    stranger = django_user_model.objects.create_user("stranger")
    assert api(stranger).get("/api/v1/models/").json() == []
    assert APIClient().get("/api/v1/models/").status_code == 401


def test_the_leaderboard_api_is_for_reviewers_and_admins(loop, project, users, django_user_model):
    judged_pair(project, users["ann1"], loop["candidate"], loop["base"], 6, 4)
    board = api(users["reviewer"]).get("/api/v1/projects/demo/leaderboard/").json()
    assert [(row["name"], row["battles"]) for row in board] == [(NAMES[1], 10), (NAMES[0], 10)]
    assert board[0]["rating"] > 1000 > board[1]["rating"] and board[0]["status"] == "candidate"
    low, high = board[0]["interval"]
    assert low <= board[0]["rating"] <= high
    refused = api(users["ann1"]).get("/api/v1/projects/demo/leaderboard/")
    assert refused.status_code == 403 and not [n for n in NAMES if n in refused.content.decode()]
    stranger = django_user_model.objects.create_user("stranger")
    assert api(stranger).get("/api/v1/projects/demo/leaderboard/").status_code == 404
