"""Cycles: one pass of a project's improvement loop as a chain of background tasks, one step per task, each step's
state and log kept on the cycle. snapshot (built inside the task) → train (from the champion; the run executes
inside the task and registers the candidate) → generate (candidate and champion answer the snapshot's eval prompts
and their paraphrases) → checks (model_checks of both and their comparison) → review (blind model_review items
against the champion, plus new preference pairs from the candidate's safety mistakes and the champion's sampled
answers: training.loop_data) → decision (waits for the human comparison; training.decisions settles it).

The first cycle of a project registers the run config's base model as a model version and makes it the champion,
so every candidate, the first included, is compared with the model it would replace.

A failed step fails the cycle with its reason in the step's log and the cycle's; `cycle_retry` queues the cycle again
from that step, keeping what the finished steps made. At most one cycle per project is active: the database refuses
a second (partial unique constraint), so two schedulers or workers racing still start only one. A cancelled cycle
stops its run or generation within seconds, and its comparison items leave the queue."""

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from annotation.errors import Conflict, InvalidInput
from annotation.models import Item, Paraphrase
from training.checks import compare_checks, model_checks
from training.cycle_evaluation import cycle_evaluate, evaluation_publish
from training.loop_data import onpolicy_items_create, onpolicy_prompts, safety_pairs_create
from training.model_review import model_review_items_create
from training.models import Cycle, ModelVersion, Schedule, Snapshot, TrainingRun
from training.pipeline.config import ConfigError, config_from_text
from training.policy import Policy
from training.promotion import model_promote
from training.run_cancel import training_run_cancel
from training.run_executor import die_with_parent, training_run_execute
from training.runs import training_run_create
from training.snapshots.config import snapshot_config as valid_snapshot_config
from training.snapshots.runner import snapshot_build
from training.snapshots.service import snapshot_create

STEPS = ("snapshot", "train", "generate", "checks", "review", "decision")
LOG_TAIL_LINES = 40
HEARTBEAT_EVERY_S = 10
ONPOLICY_TEMPERATURE = 0.8
Status = Cycle.Status


class StepFailed(Exception):
    """A step could not finish; the message is what its log shows."""


class Cancelled(Exception):
    """The cycle was cancelled while the step ran."""


def cycle_folder(cycle: Cycle) -> Path:
    return Path(settings.MEDIA_ROOT) / "cycles" / cycle.project.slug / str(cycle.id)


def _media_relative(path: Path) -> str:
    return str(path.relative_to(settings.MEDIA_ROOT))


def cycle_settings(project, *, snapshot_config=None, run_config_yaml=None, policy=None) -> dict:
    """The cycle's config: what is given, else the project's loop settings (its Schedule); InvalidInput names the
    field that is missing or wrong."""
    schedule = Schedule.objects.filter(project=project).first()
    if snapshot_config is None:
        snapshot_config = schedule.snapshot_config if schedule else {}
    if run_config_yaml is None:
        run_config_yaml = schedule.run_config_yaml if schedule else ""
    if policy is None:
        policy = schedule.policy if schedule else {}
    if not run_config_yaml.strip():
        raise InvalidInput(
            "No run config: set one in the project's loop settings or give one.", field="run_config_yaml"
        )
    try:
        config_from_text(run_config_yaml)
    except (ConfigError, ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"run config: {exc}", field="run_config_yaml") from exc
    valid_snapshot_config(snapshot_config)
    return {
        "snapshot": snapshot_config,
        "run_config_yaml": run_config_yaml,
        "policy": Policy.from_dict(policy).as_dict(),
    }


def cycle_start(
    *, project, user, snapshot_config=None, run_config_yaml=None, policy=None, trigger: str = "manual"
) -> Cycle:
    """Record a cycle and queue its first step; Conflict while another cycle of the project is active. Settings
    not given come from the project's loop settings; `trigger` says who or what started it, for the page."""
    config = cycle_settings(project, snapshot_config=snapshot_config, run_config_yaml=run_config_yaml, policy=policy)
    steps = [{"name": name, "status": "pending", "started_at": None, "finished_at": None, "log": ""} for name in STEPS]
    try:
        with transaction.atomic():
            cycle = Cycle.objects.create(
                project=project,
                created_by=user,
                step=STEPS[0],
                steps=steps,
                config={**config, "trigger": trigger},
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
    if run_config_yaml is not None:
        checked = cycle_settings(
            cycle.project, run_config_yaml=run_config_yaml, snapshot_config=cycle.config["snapshot"]
        )
        cycle.config = {**cycle.config, "run_config_yaml": checked["run_config_yaml"]}
    cycle.status, cycle.finished_at = Status.QUEUED, None
    cycle.current_step["status"] = "pending"
    try:
        with transaction.atomic():
            cycle.save(update_fields=["status", "finished_at", "config", "steps", "updated_at"])
    except IntegrityError as exc:
        raise Conflict("A cycle is already running for this project.") from exc
    transaction.on_commit(lambda: cycle_advance.enqueue(cycle.id))
    return cycle


def cycle_cancel(*, cycle: Cycle, user) -> Cycle:
    """Cancel an active cycle: it ends at once; a run it is training is cancelled, a generation it runs stops
    within seconds, and its comparison items leave the queue (judgments made stay). Conflict once it has ended."""
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update(of=("self",)).select_related("run").get(id=cycle.id)
        if cycle.status not in Cycle.ACTIVE:
            raise Conflict(f"Cycle {cycle.id} already ended ({cycle.status}); only an active cycle can be cancelled.")
        who = user.username if user else "the system"
        cycle.cancel_requested_by = user
        cycle.end(
            Status.CANCELLED,
            step_status="cancelled",
            note=f"Cancelled by {who} at {timezone.now():%Y-%m-%d %H:%M:%S} UTC.",
        )
        cycle.save()
        if cycle.run and cycle.run.status in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING):
            training_run_cancel(run=cycle.run, user=user)
        Item.objects.filter(id__in=cycle.results.get("review_items") or []).update(open_slots=0)
    return cycle


@task(queue_name="training")
def cycle_advance(cycle_id: int) -> str:
    """Run the cycle's queued step, then queue the next one (or wait for the human comparison at the decision).
    A cycle that is not queued (taken by another worker, retried twice, cancelled) is left alone."""
    now = timezone.now()
    if not Cycle.objects.filter(id=cycle_id, status=Status.QUEUED).update(status=Status.RUNNING, heartbeat_at=now):
        return Cycle.objects.get(id=cycle_id).status
    cycle = Cycle.objects.select_related("project", "snapshot", "run", "candidate", "champion").get(id=cycle_id)
    step = cycle.current_step
    step.update(status="running", started_at=now.isoformat(), finished_at=None)
    if not Cycle.objects.filter(id=cycle.id, status=Status.RUNNING).update(steps=cycle.steps, updated_at=now):
        return Status.CANCELLED  # cancelled since it was claimed
    try:
        log = STEP_RUNNERS[cycle.step](cycle)
    except Cancelled:
        return Status.CANCELLED
    except Exception as exc:  # noqa: BLE001 - whatever breaks a step is shown in its log, and the cycle can be retried
        return _fail(cycle, _reason(exc))
    with transaction.atomic():
        if not _still_running(cycle):
            return Status.CANCELLED
        step.update(status="succeeded", finished_at=timezone.now().isoformat(), log=log)
        cycle.log += f"{cycle.step}: {log}\n"
        cycle.step = STEPS[STEPS.index(cycle.step) + 1]
        if cycle.step == "decision":
            cycle.status = Status.WAITING
            cycle.current_step.update(status="waiting", started_at=timezone.now().isoformat())
        else:
            cycle.status = Status.QUEUED
            transaction.on_commit(lambda: cycle_advance.enqueue(cycle.id))
        cycle.save()
    return cycle.status


def _reason(exc: Exception) -> str:
    if isinstance(exc, StepFailed):
        return str(exc)
    details = [" ".join(f"{key}: {value}" for key, value in error.items()) for error in getattr(exc, "errors", [])]
    return "\n".join([f"{type(exc).__name__}: {exc}", *details])


def _still_running(cycle: Cycle) -> bool:
    """Lock the cycle's row and say whether it is still this worker's: cancelled or failed as stale, it is not."""
    return Cycle.objects.select_for_update().filter(id=cycle.id, status=Status.RUNNING).exists()


def _fail(cycle: Cycle, reason: str) -> str:
    with transaction.atomic():
        if not _still_running(cycle):
            return Status.CANCELLED
        cycle.end(Status.FAILED, step_status="failed", note=reason)
        cycle.save()
    return cycle.status


def _beat(cycle: Cycle) -> None:
    """Show the cycle alive; Cancelled if it was cancelled meanwhile."""
    if not Cycle.objects.filter(id=cycle.id, status=Status.RUNNING).update(heartbeat_at=timezone.now()):
        raise Cancelled


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


def _current_champion(project, base_model: str) -> ModelVersion | None:
    """The champion to train from: a trained one, or the base model version while the run config still names it."""
    champion = ModelVersion.objects.filter(project=project, status=ModelVersion.Status.CHAMPION).first()
    if champion and (champion.run_id or champion.base_model == base_model):
        return champion
    return None


def _base_champion(project, base_model: str) -> ModelVersion:
    """Register the run config's base model as a version and make it the champion: before any trained model wins,
    the base serves (and a run config naming another base replaces it)."""
    base = ModelVersion.objects.filter(project=project, run=None, base_model=base_model).first()
    if base is None:
        taken = ModelVersion.objects.filter(project=project, run=None).count()
        name = f"{project.slug}-base" + (f"{taken + 1}" if taken else "")
        base = ModelVersion.objects.create(project=project, name=name, base_model=base_model)
    return model_promote(
        version=base, user=None, reason="The base model serves until a trained model beats it.", automatic=True
    )


def _train(cycle: Cycle) -> str:
    """Train from the project's champion: the loop improves on the model people judged best, and that champion is
    the one the candidate is compared with. The base model is registered only once a run from it succeeded."""
    base_model = config_from_text(cycle.config["run_config_yaml"]).base_model
    cycle.champion = _current_champion(cycle.project, base_model)
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
    if run.status != TrainingRun.Status.SUCCEEDED:  # a cancel of the cycle itself ends it cancelled in _fail
        raise StepFailed(f"Run {run.id} {run.status}:\n{_tail(run.log_tail)}")
    candidate = ModelVersion.objects.get(run=run)
    with transaction.atomic():
        if cycle.champion is None:
            cycle.champion = _base_champion(cycle.project, base_model)
            TrainingRun.objects.filter(id=run.id).update(parent_model=cycle.champion)
            ModelVersion.objects.filter(id=candidate.id).update(parent=cycle.champion)
            candidate.parent = cycle.champion
        cycle.run, cycle.candidate = run, candidate
        cycle.save(update_fields=["run", "candidate", "champion", "updated_at"])
    return f"run {run.id} succeeded; candidate {candidate.name} trained from {cycle.champion.name}"


def eval_prompts(snapshot: Snapshot) -> list[dict]:
    """One prompt row per eval item of the snapshot's SFT data (demonstrations, and refusal cases that should be
    refused or complied with), then one per paraphrase of those items; an item with paraphrases and its paraphrases
    share a `paraphrase_group`, and a paraphrase row names its item in `paraphrase_of`. Each row carries the item's
    `tags` and its `references`: every accepted answer to it, the first turn each annotator wrote."""
    if "sft.eval.jsonl" not in snapshot.files:
        return []
    rows = {}
    with default_storage.open(f"{snapshot.folder}/sft.eval.jsonl") as source:
        for line in source.read().decode("utf-8").splitlines():
            row = json.loads(line)
            prompt = rows.setdefault(
                row["item_id"],
                {
                    "id": row["item_id"],
                    "messages": row["prompt"],
                    **{key: row.get(key) for key in ("task_type", "domain", "safety", "harm_category")},
                    "tags": row.get("tags") or [],
                    "references": [],
                },
            )
            prompt["references"].append(row["completion"][0]["content"])
    paraphrases = Paraphrase.objects.filter(item_id__in=list(rows)).order_by("item_id", "id")
    for paraphrase in paraphrases.values("id", "item_id", "text"):
        original = rows[paraphrase["item_id"]]
        original["paraphrase_group"] = original["id"]
        rows[f"p{paraphrase['id']}"] = {
            **original,
            "id": f"p{paraphrase['id']}",
            "messages": [*original["messages"][:-1], {"role": "user", "content": paraphrase["text"]}],
            "paraphrase_of": original["id"],
        }
    return list(rows.values())


def _generate(cycle: Cycle) -> str:
    prompts = eval_prompts(cycle.snapshot)
    if not prompts:
        raise StepFailed(f"Snapshot v{cycle.snapshot.version} has no eval prompts to answer; give it an eval split.")
    folder = cycle_folder(cycle)
    folder.mkdir(parents=True, exist_ok=True)
    prompts_path = folder / "prompts.jsonl"
    prompts_path.write_text("".join(json.dumps(row) + "\n" for row in prompts), encoding="utf-8")
    use_cpu = config_from_text(cycle.config["run_config_yaml"]).use_cpu
    options = ["--max-new-tokens", str(cycle.config["policy"]["generate_max_new_tokens"])]
    options += ["--use-cpu"] if use_cpu else []
    answers = {}
    for side, version in (("candidate", cycle.candidate), ("champion", cycle.champion)):
        # With the model version when it has a folder; a base model's answers stay with the cycle.
        out = (version.path / "answers" if version.run_id else folder) / f"cycle-{cycle.id}.{side}.jsonl"
        _run_generate(cycle, version.source, prompts_path, out, folder / f"generate-{side}.log", options)
        answers[side] = _media_relative(out)
    log = f"{len(prompts)} prompts answered by {cycle.candidate.name} and {cycle.champion.name}"
    limit = cycle.config["policy"]["onpolicy_prompts"]
    if fresh := onpolicy_prompts(cycle.project, limit=limit) if limit else []:
        # the champion's own answers, sampled twice, to prompts with no preference data yet (on-policy pairs)
        onpolicy_path, out = folder / "onpolicy.prompts.jsonl", folder / "onpolicy.answers.jsonl"
        onpolicy_path.write_text("".join(json.dumps(row) + "\n" for row in fresh), encoding="utf-8")
        sampling = ["--samples", "2", "--temperature", str(ONPOLICY_TEMPERATURE), "--seed", str(cycle.id)]
        _run_generate(
            cycle, cycle.champion.source, onpolicy_path, out, folder / "generate-onpolicy.log", [*options, *sampling]
        )
        answers["onpolicy"] = _media_relative(out)
        log += f"; {cycle.champion.name} sampled two answers to {len(fresh)} prompts without preference data"
    cycle.results = {"prompts": len(prompts), "answers": answers}
    cycle.save(update_fields=["results", "updated_at"])
    return log


def _run_generate(cycle: Cycle, model: str, prompts: Path, out: Path, log_path: Path, options: list[str]) -> None:
    command = [sys.executable, "-m", "training.pipeline.generate", "--model", model]
    command += ["--prompts", str(prompts), "--out", str(out), *options]
    with log_path.open("w", encoding="utf-8") as log:  # written as it comes, and the child dies with this worker
        child = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        beaten = 0.0
        while child.poll() is None:
            if time.monotonic() - beaten > HEARTBEAT_EVERY_S:
                try:
                    _beat(cycle)
                except Cancelled:
                    child.kill()
                    child.wait()
                    raise
                beaten = time.monotonic()
            time.sleep(0.5)
    if child.returncode != 0:
        output = log_path.read_text(encoding="utf-8", errors="replace")
        raise StepFailed(f"Generating with {model} exited with {child.returncode}:\n{_tail(output)}")


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


def cycle_answers(cycle: Cycle, side: str) -> list[dict]:
    """The answer rows of the cycle's candidate or champion (generate.py's rows)."""
    path = Path(settings.MEDIA_ROOT) / cycle.results["answers"][side]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _checks(cycle: Cycle) -> str:
    """The automatic checks and the reference evaluation of both models' answers, published with the candidate."""
    candidate_answers, champion_answers = cycle_answers(cycle, "candidate"), cycle_answers(cycle, "champion")
    candidate = model_checks(candidate_answers, run_metrics=cycle.run.metrics)
    champion = model_checks(champion_answers, run_metrics=cycle.champion.run.metrics if cycle.champion.run else None)
    comparison = compare_checks(candidate, champion, margin=cycle.config["policy"]["safety_margin"])
    evaluation = cycle_evaluate(cycle, candidate_answers, champion_answers)
    cycle.results = {**cycle.results, "checks": {"candidate": candidate, "champion": champion}}
    cycle.results |= {"comparison": comparison, "evaluation": evaluation}
    cycle.save(update_fields=["results", "updated_at"])
    evaluation_publish(cycle)
    regressions = "; ".join(r["message"] for r in comparison["regressions"]) or "none"
    forgot = f"; {evaluation['forgetting']['message']}" if evaluation["forgetting"] else ""
    return f"regressions against {cycle.champion.name}: {regressions}{forgot}"


def _review(cycle: Cycle) -> str:
    """Blind comparison items for the prompts themselves (paraphrases are for the consistency check only), and the
    loop's new data: preference pairs from the candidate's safety mistakes and from the champion's samples. All in
    one transaction, so a retried step starts clean."""
    candidate_answers = cycle_answers(cycle, "candidate")
    with transaction.atomic():
        if not _still_running(cycle):  # a cancel waits for this lock, then withdraws the items made here
            raise Cancelled
        items = model_review_items_create(
            project=cycle.project,
            candidate=cycle.candidate,
            champion=cycle.champion,
            candidate_answers=[row for row in candidate_answers if "paraphrase_of" not in row],
            champion_answers=[row for row in cycle_answers(cycle, "champion") if "paraphrase_of" not in row],
            overlap=cycle.config["policy"]["review_overlap"],
            seed=cycle.id,
        )
        mistakes = safety_pairs_create(
            project=cycle.project, model_version=cycle.candidate, answer_rows=candidate_answers, seed=cycle.id
        )
        sampled = []
        if "onpolicy" in cycle.results["answers"]:
            sampled = onpolicy_items_create(
                project=cycle.project, model_version=cycle.champion, sample_rows=cycle_answers(cycle, "onpolicy")
            )
        cycle.results = {
            **cycle.results,
            "review_items": [item.id for item in items],
            "safety_pairs": [item.id for item in mistakes],
            "onpolicy_items": [item.id for item in sampled],
        }
        cycle.save(update_fields=["results", "updated_at"])
    unsent = cycle.results["prompts"] - len(items)
    skipped = f"; {unsent} prompts not sent (answered alike, a paraphrase, or compared before)" if unsent else ""
    return (
        f"{len(items)} model_review items queued against {cycle.champion.name}{skipped}; new preference items: "
        f"{len(mistakes)} from the candidate's safety mistakes, {len(sampled)} on-policy pairs"
    )


STEP_RUNNERS = {"snapshot": _snapshot, "train": _train, "generate": _generate, "checks": _checks, "review": _review}
