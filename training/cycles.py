"""Cycles: one pass of a project's improvement loop as a chain of background tasks, one step per task, each step's
state and log kept on the cycle. snapshot (built inside the task) → train (the run executes inside the task and
registers the candidate) → generate (candidate and champion, or the base model when there is no champion, answer
the snapshot's eval prompts) → checks (model_checks of both and their comparison) → review (blind model_review items
against the champion), after which the cycle waits for the human comparison and the decision.

A failed step fails the cycle with its reason in the step's log and the cycle's; `cycle_retry` queues the cycle again
from that step, keeping what the finished steps made. At most one cycle per project is active: the database refuses
a second (partial unique constraint), so two schedulers or workers racing still start only one."""

import json
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from annotation.errors import Conflict, InvalidInput
from training.checks import compare_checks, model_checks
from training.model_review import model_review_items_create
from training.models import Cycle, ModelVersion, Snapshot, TrainingRun
from training.pipeline.config import config_from_text
from training.run_executor import die_with_parent, training_run_execute
from training.runs import training_run_create
from training.snapshots.config import snapshot_config as valid_snapshot_config
from training.snapshots.runner import snapshot_build
from training.snapshots.service import snapshot_create

STEPS = ("snapshot", "train", "generate", "checks", "review")
LOG_TAIL_LINES = 40
Status = Cycle.Status


class StepFailed(Exception):
    """A step could not finish; the message is what its log shows."""


def cycle_folder(cycle: Cycle) -> Path:
    return Path(settings.MEDIA_ROOT) / "cycles" / cycle.project.slug / str(cycle.id)


def _media_relative(path: Path) -> str:
    return str(path.relative_to(settings.MEDIA_ROOT))


def cycle_start(*, project, user, snapshot_config: dict, run_config_yaml: str) -> Cycle:
    """Record a cycle and queue its first step; Conflict while another cycle of the project is active."""
    valid_snapshot_config(snapshot_config)
    steps = [{"name": name, "status": "pending", "started_at": None, "finished_at": None, "log": ""} for name in STEPS]
    try:
        with transaction.atomic():
            cycle = Cycle.objects.create(
                project=project,
                created_by=user,
                step=STEPS[0],
                steps=steps,
                config={"snapshot": snapshot_config, "run_config_yaml": run_config_yaml},
            )
    except IntegrityError as exc:
        raise Conflict("A cycle is already running for this project.") from exc
    transaction.on_commit(lambda: cycle_advance.enqueue(cycle.id))
    return cycle


def cycle_retry(*, cycle: Cycle, run_config_yaml: str | None = None) -> Cycle:
    """Queue a failed cycle again from its failed step (with a corrected run config if given); finished steps are
    not redone. Conflict if it has not failed or another cycle of the project became active meanwhile."""
    if cycle.status != Status.FAILED:
        raise Conflict(f"Cycle {cycle.id} is {cycle.status}; only a failed cycle can be retried.")
    cycle.status, cycle.finished_at = Status.QUEUED, None
    if run_config_yaml is not None:
        cycle.config = {**cycle.config, "run_config_yaml": run_config_yaml}
    _step(cycle)["status"] = "pending"
    try:
        with transaction.atomic():
            cycle.save(update_fields=["status", "finished_at", "config", "steps", "updated_at"])
    except IntegrityError as exc:
        raise Conflict("A cycle is already running for this project.") from exc
    transaction.on_commit(lambda: cycle_advance.enqueue(cycle.id))
    return cycle


@task(queue_name="training")
def cycle_advance(cycle_id: int) -> str:
    """Run the cycle's queued step, then queue the next one (or wait for the human comparison after the last).
    A cycle that is not queued (taken by another worker, or retried twice) is left alone."""
    if not Cycle.objects.filter(id=cycle_id, status=Status.QUEUED).update(status=Status.RUNNING):
        return Cycle.objects.get(id=cycle_id).status
    cycle = Cycle.objects.select_related("project", "snapshot", "run", "candidate", "champion").get(id=cycle_id)
    step = _step(cycle)
    step.update(status="running", started_at=timezone.now().isoformat(), finished_at=None)
    cycle.save(update_fields=["steps", "updated_at"])
    try:
        log = STEP_RUNNERS[cycle.step](cycle)
    except Exception as exc:  # noqa: BLE001 - whatever breaks a step is shown in its log, and the cycle can be retried
        return _fail(cycle, f"{type(exc).__name__}: {exc}" if not isinstance(exc, StepFailed) else str(exc))
    with transaction.atomic():
        step.update(status="succeeded", finished_at=timezone.now().isoformat(), log=log)
        cycle.log += f"{cycle.step}: {log}\n"
        following = STEPS.index(cycle.step) + 1
        if following == len(STEPS):
            cycle.status = Status.WAITING
        else:
            cycle.step, cycle.status = STEPS[following], Status.QUEUED
            transaction.on_commit(lambda: cycle_advance.enqueue(cycle.id))
        cycle.save()
    return cycle.status


def _step(cycle: Cycle) -> dict:
    return next(step for step in cycle.steps if step["name"] == cycle.step)


def _fail(cycle: Cycle, reason: str) -> str:
    _step(cycle).update(status="failed", finished_at=timezone.now().isoformat(), log=reason)
    cycle.status, cycle.finished_at = Status.FAILED, timezone.now()
    cycle.log += f"{cycle.step} failed: {reason}\n"
    cycle.save()
    return cycle.status


def _snapshot(cycle: Cycle) -> str:
    if cycle.snapshot is None or cycle.snapshot.status == Snapshot.Status.FAILED:
        cycle.snapshot = snapshot_create(
            project=cycle.project, user=cycle.created_by, config=cycle.config["snapshot"], queue=False
        )
        cycle.save(update_fields=["snapshot", "updated_at"])
    snapshot = cycle.snapshot
    if snapshot.status != Snapshot.Status.READY:
        snapshot = snapshot_build(snapshot.id)
    if snapshot.status != Snapshot.Status.READY:
        raise StepFailed(f"Snapshot v{snapshot.version} failed: {snapshot.error}")
    cycle.snapshot = snapshot
    return f"snapshot v{snapshot.version} ready ({snapshot.counts.get('rows', {})})"


def _train(cycle: Cycle) -> str:
    """Train from the project's champion when it has one (else the run config's base model): the loop improves on
    the model people judged best, and that champion is the one the candidate is compared with."""
    cycle.champion = ModelVersion.objects.filter(project=cycle.project, status=ModelVersion.Status.CHAMPION).first()
    try:
        run = training_run_create(
            snapshot=cycle.snapshot,
            config_yaml=cycle.config["run_config_yaml"],
            user=cycle.created_by,
            parent=cycle.champion,
            queue=False,
        )
    except InvalidInput as exc:
        raise StepFailed(str(exc)) from exc
    cycle.run = run
    cycle.save(update_fields=["run", "champion", "updated_at"])
    run = training_run_execute(run.id)
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise StepFailed(f"Run {run.id} {run.status}:\n{_tail(run.log_tail)}")
    cycle.run, cycle.candidate = run, ModelVersion.objects.get(run=run)
    return f"run {run.id} succeeded; candidate {cycle.candidate.name}"


def _eval_prompts(snapshot: Snapshot) -> list[dict]:
    """One prompt row per eval item of the snapshot's SFT data (demonstrations and refusal-style answers)."""
    if "sft.eval.jsonl" not in snapshot.files:
        return []
    rows = {}
    with default_storage.open(f"{snapshot.folder}/sft.eval.jsonl") as source:
        for line in source.read().decode("utf-8").splitlines():
            row = json.loads(line)
            rows.setdefault(
                row["item_id"],
                {
                    "id": row["item_id"],
                    "messages": row["prompt"],
                    **{key: row.get(key) for key in ("task_type", "domain", "safety", "harm_category")},
                },
            )
    return list(rows.values())


def _generate(cycle: Cycle) -> str:
    prompts = _eval_prompts(cycle.snapshot)
    if not prompts:
        raise StepFailed(f"Snapshot v{cycle.snapshot.version} has no eval prompts to answer; give it an eval split.")
    folder = cycle_folder(cycle)
    folder.mkdir(parents=True, exist_ok=True)
    prompts_path = folder / "prompts.jsonl"
    prompts_path.write_text("".join(json.dumps(row) + "\n" for row in prompts), encoding="utf-8")
    config = config_from_text(cycle.config["run_config_yaml"])
    champion = cycle.champion
    answers_name = f"answers/cycle-{cycle.id}.jsonl"
    candidate_out = cycle.candidate.path / answers_name
    _run_generate(cycle.candidate.path, prompts_path, candidate_out, folder / "generate-candidate.log", config.use_cpu)
    if champion:
        baseline, baseline_out = str(champion.path), champion.path / answers_name
    else:
        baseline, baseline_out = config.base_model, folder / "base.answers.jsonl"
    _run_generate(baseline, prompts_path, baseline_out, folder / "generate-baseline.log", config.use_cpu)
    cycle.results = {
        "prompts": len(prompts),
        "baseline": champion.name if champion else config.base_model,
        "answers": {"candidate": _media_relative(candidate_out), "baseline": _media_relative(baseline_out)},
    }
    return f"{len(prompts)} prompts answered by {cycle.candidate.name} and {cycle.results['baseline']}"


def _run_generate(model, prompts: Path, out: Path, log_path: Path, use_cpu: bool) -> None:
    command = [sys.executable, "-m", "training.pipeline.generate", "--model", str(model)]
    command += ["--prompts", str(prompts), "--out", str(out), *(["--use-cpu"] if use_cpu else [])]
    with log_path.open("w", encoding="utf-8") as log:  # written as it comes, and the child dies with this worker
        done = subprocess.run(
            command,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
    if done.returncode != 0:
        output = log_path.read_text(encoding="utf-8", errors="replace")
        raise StepFailed(f"Generating with {model} exited with {done.returncode}:\n{_tail(output)}")


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


def _answers(cycle: Cycle, side: str) -> list[dict]:
    path = Path(settings.MEDIA_ROOT) / cycle.results["answers"][side]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _checks(cycle: Cycle) -> str:
    candidate = model_checks(_answers(cycle, "candidate"), run_metrics=cycle.run.metrics)
    baseline_metrics = cycle.champion.run.metrics if cycle.champion else None
    baseline = model_checks(_answers(cycle, "baseline"), run_metrics=baseline_metrics)
    comparison = compare_checks(candidate, baseline)
    cycle.results = {**cycle.results, "checks": {"candidate": candidate, "baseline": baseline}}
    cycle.results["comparison"] = comparison
    regressions = "; ".join(r["message"] for r in comparison["regressions"]) or "none"
    return f"regressions against {cycle.results['baseline']}: {regressions}"


def _review(cycle: Cycle) -> str:
    if cycle.champion is None:
        cycle.results = {**cycle.results, "review_items": []}
        return "no champion yet: nothing to compare by hand"
    items = model_review_items_create(
        project=cycle.project,
        candidate=cycle.candidate,
        champion=cycle.champion,
        candidate_answers=_answers(cycle, "candidate"),
        champion_answers=_answers(cycle, "baseline"),
    )
    cycle.results = {**cycle.results, "review_items": [item.id for item in items]}
    return f"{len(items)} model_review items queued against {cycle.champion.name}"


STEP_RUNNERS = {"snapshot": _snapshot, "train": _train, "generate": _generate, "checks": _checks, "review": _review}
