"""A cycle's evaluation of its candidate and champion on the snapshot's eval split (training.evaluation), fitted to
the stages the candidate's run contained, and recorded where people and programs read it: the cycle's results (the
model and error-analysis pages), the candidate's ModelVersion.metrics (the API) and its run's metrics.json."""

import json
from pathlib import Path

from training.evaluation import evaluate, forgetting
from training.models import Cycle, ModelVersion, TrainingRun
from training.pipeline.config import config_from_text
from training.policy import Policy

MIX_KEYS = ("domain_rows", "general_rows")


def cycle_evaluate(cycle: Cycle, candidate_answers: list[dict], champion_answers: list[dict]) -> dict:
    """{"stages", "domain", "general_share", "mix", "candidate", "champion", "forgetting"}: both models' evaluations
    and, when the run had a domain stage, its domain, the share of general rows it asked for and the rows it mixed,
    and the forgetting verdict under the cycle's policy (None without a domain stage)."""
    config = config_from_text(cycle.config["run_config_yaml"])
    domain = config.domain_sft.domain if "domain_sft" in config.stages else None
    candidate = evaluate(candidate_answers, domain=domain)
    champion = evaluate(champion_answers, domain=domain)
    margin = Policy.from_dict(cycle.config.get("policy")).forgetting_margin
    mixed = ((cycle.run.metrics.get("stages") or {}).get("domain_sft") or {}) if cycle.run else {}
    return {
        "stages": list(config.stages),
        "domain": domain,
        "general_share": config.domain_sft.general_share if domain else None,
        "mix": {key: mixed.get(key) for key in MIX_KEYS} if domain else None,
        "candidate": candidate,
        "champion": champion,
        "forgetting": forgetting(candidate, champion, domain=domain, margin=margin) if domain else None,
    }


def evaluation_report(cycle: Cycle) -> dict:
    """What the model page shows of the candidate, as data: the evaluation, the checks' regressions, the held-out
    run figures and the human comparison so far."""
    results = cycle.results
    comparison = results.get("comparison") or {}
    human = results.get("human") or {}
    return {
        "cycle": cycle.id,
        "snapshot": cycle.snapshot.version if cycle.snapshot else None,
        "against": cycle.champion.name if cycle.champion else None,
        **results["evaluation"],
        "regressions": comparison.get("regressions", []),
        "run": comparison.get("run", {}),
        "human": {key: human[key] for key in ("overall", "by_task_type") if key in human},
    }


def evaluation_publish(cycle: Cycle) -> None:
    """Put the candidate's report into its ModelVersion.metrics["evaluation"] and its run's metrics.json (and the
    run's metrics) under "evaluation"; nothing before the cycle's evaluation ran."""
    if "evaluation" not in cycle.results or cycle.candidate is None:
        return
    report = evaluation_report(cycle)
    version = ModelVersion.objects.get(id=cycle.candidate_id)
    ModelVersion.objects.filter(id=version.id).update(metrics={**version.metrics, "evaluation": report})
    run = TrainingRun.objects.filter(id=version.run_id).first()
    if run is None:
        return
    TrainingRun.objects.filter(id=run.id).update(metrics={**run.metrics, "evaluation": report})
    path = Path(run.output_dir) / "metrics.json" if run.output_dir else None
    if path and path.exists():
        written = json.loads(path.read_text(encoding="utf-8"))
        partial = path.with_name("metrics.json.partial")
        partial.write_text(json.dumps({**written, "evaluation": report}, indent=2) + "\n", encoding="utf-8")
        partial.replace(path)
