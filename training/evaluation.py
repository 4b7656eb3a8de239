"""Evaluation of one model's answers on a snapshot's pinned eval split against the annotators' references, and the
forgetting verdict of a domain stage. Pure functions on answer rows (training.pipeline.generate's output, with the
`references` and `tags` of training.cycles.eval_prompts); the metrics themselves are training.reference_metrics.

A scope is a set of eval rows (paraphrase rows left out: they are for the consistency check):
{"n": rows, "score": the mean primary score of the rows a metric applies to, "by_task_type": {type: {metric: figure}}}.
An evaluation is the overall scope, one per tag and one per domain (so a rare kind is never averaged away), and after
a domain stage the general scope: the rows outside that domain, whose score the candidate must not lose."""

from collections import defaultdict

from training.checks import group_names
from training.reference_metrics import METRICS, figures, item_score, mean_figure


def _scope(rows: list[dict]) -> dict:
    pairs, scores = defaultdict(list), []
    for row in rows:
        task_type = row.get("task_type") or ""
        if task_type not in METRICS:
            continue
        response, references = row.get("response") or "", row.get("references") or []
        pairs[task_type].append((response, references))
        if (score := item_score(task_type, response, references)) is not None:
            scores.append(score)
    return {
        "n": len(rows),
        "score": mean_figure(scores),
        "by_task_type": {task_type: figures(task_type, found) for task_type, found in sorted(pairs.items())},
    }


def _grouped(rows: list[dict], key: str) -> dict[str, dict]:
    groups = defaultdict(list)
    for row in rows:
        for group in group_names(row, key):
            groups[group].append(row)
    return {group: _scope(members) for group, members in sorted(groups.items())}


def evaluate(answers: list[dict], *, domain: str | None = None) -> dict:
    """{"overall", "by_tag", "by_domain", "general"} scopes of one model's answers; `general` (the rows of every
    domain but `domain`) only after a domain stage, else None."""
    rows = [row for row in answers if "paraphrase_of" not in row]
    return {
        "overall": _scope(rows),
        "by_tag": _grouped(rows, "tags"),
        "by_domain": _grouped(rows, "domain"),
        "general": _scope([row for row in rows if row.get("domain") != domain]) if domain else None,
    }


def forgetting(candidate: dict, champion: dict, *, domain: str, margin: float) -> dict:
    """Whether a domain stage cost the candidate what the champion knew: the general score (every domain but the
    stage's) of both, and `forgot` when it fell by more than `margin` (absolute, on 0–1). Not judged (`judged`
    False, never blocking) when either side has too few general items with a reference metric."""
    new, old = candidate["general"]["score"], champion["general"]["score"]
    judged = new["enough"] and old["enough"]
    drop = round(old["value"] - new["value"], 9) if judged else None
    forgot = judged and drop > margin
    general = f"the general eval items (every domain but {domain})"
    if not judged:
        message = f"Forgetting not judged: {(new if not new['enough'] else old)['note']} among {general}."
    elif forgot:
        message = (
            f"Forgot general skills: on {general} the score fell from {old['value']:.1%} to {new['value']:.1%}, "
            f"more than the {margin:.1%} margin."
        )
    else:
        message = (
            f"No forgetting beyond the {margin:.1%} margin: {general} scored {old['value']:.1%} → {new['value']:.1%}."
        )
    return {
        "judged": judged,
        "forgot": forgot,
        "domain": domain,
        "candidate": new,
        "champion": old,
        "drop": drop,
        "margin": margin,
        "message": message,
    }
