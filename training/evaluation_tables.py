"""A cycle's evaluation (training.cycle_evaluation) as the tables the model page shows, fitted to the stages the
candidate's run contained: reference metrics per task type always; domain accuracy and the forgetting verdict after
a domain stage; held-out reward accuracy and the human win rate after DPO; every tag on its own. Each figure is put
in words here (a percentage or sacreBLEU points, its interval and n, or the note that says why there is no number)."""

from training.models import Cycle
from training.reference_metrics import LABELS, SCALE

STAGE_LABELS = {"sft": "SFT", "domain_sft": "domain SFT", "dpo": "DPO"}


def figure_text(figure: dict | None, scale: int = 1) -> dict:
    """{"text", "interval", "n", "enough", "note"}: the value as a percentage (scale 1) or points (scale 100), its
    interval likewise, or no text and the note when there were too few items."""
    figure = figure or {}

    def shown(value: float) -> str:
        return f"{value:.1f}" if scale == 100 else f"{value:.1%}"

    value, interval = figure.get("value"), figure.get("interval")
    enough = bool(figure.get("enough")) and value is not None
    return {
        "text": shown(value) if enough else "",
        "interval": f"{shown(interval[0])} – {shown(interval[1])}" if enough and interval else "",
        "n": figure.get("n", 0),
        "enough": enough,
        "note": figure.get("note") or ("" if enough else "no items"),
    }


def _metric_rows(candidate: dict | None, champion: dict | None) -> list[dict]:
    """Per task type and metric, the candidate's and champion's figures (either side may lack the type)."""
    new, old = (candidate or {}).get("by_task_type") or {}, (champion or {}).get("by_task_type") or {}
    rows = []
    for task_type in sorted(new.keys() | old.keys()):
        metrics = list(dict.fromkeys([*(new.get(task_type) or {}), *(old.get(task_type) or {})]))
        for metric in metrics:
            scale = SCALE.get(metric, 1)
            rows.append(
                {
                    "task_type": task_type,
                    "metric": LABELS.get(metric, metric),
                    "candidate": figure_text((new.get(task_type) or {}).get(metric), scale),
                    "champion": figure_text((old.get(task_type) or {}).get(metric), scale),
                }
            )
    return rows


def _score_pair(candidate: dict | None, champion: dict | None) -> dict:
    return {
        "candidate": figure_text((candidate or {}).get("score")),
        "champion": figure_text((champion or {}).get("score")),
    }


def evaluation_tables(cycle: Cycle) -> dict | None:
    """The model page's evaluation of the cycle's candidate against its champion, None before it ran: "stages" (in
    words), "metrics" (rows per task type and metric), "overall" score pair, "domain" (after domain_sft: its name,
    score pair, metric rows, the run's "general_share" and "mix"), "forgetting" (the verdict, its figures in words),
    "dpo" (after dpo: held-out reward accuracy of both, and the human "win_rate"), and "tags" (score pair per tag)."""
    evaluation = cycle.results.get("evaluation")
    if not evaluation:
        return None
    candidate, champion = evaluation.get("candidate") or {}, evaluation.get("champion") or {}
    stages = evaluation.get("stages") or []
    new_tags, old_tags = candidate.get("by_tag") or {}, champion.get("by_tag") or {}
    tables = {
        "stages": [STAGE_LABELS.get(stage, stage) for stage in stages],
        "metrics": _metric_rows(candidate.get("overall"), champion.get("overall")),
        "overall": _score_pair(candidate.get("overall"), champion.get("overall")),
        "domain": None,
        "forgetting": None,
        "dpo": None,
        "tags": [
            {
                "tag": tag,
                "n": (new_tags.get(tag) or {}).get("n", 0),
                **_score_pair(new_tags.get(tag), old_tags.get(tag)),
            }
            for tag in sorted(new_tags.keys() | old_tags.keys())
        ],
    }
    domain = evaluation.get("domain")
    if "domain_sft" in stages and domain:
        new, old = (candidate.get("by_domain") or {}).get(domain), (champion.get("by_domain") or {}).get(domain)
        tables["domain"] = {
            "name": domain,
            "general_share": evaluation.get("general_share"),
            "mix": evaluation.get("mix") or {},
            "metrics": _metric_rows(new, old),
            **_score_pair(new, old),
        }
    if forgetting := evaluation.get("forgetting"):
        tables["forgetting"] = {
            **forgetting,
            "candidate": figure_text(forgetting.get("candidate")),
            "champion": figure_text(forgetting.get("champion")),
        }
    if "dpo" in stages:
        run = (cycle.results.get("comparison") or {}).get("run") or {}
        tables["dpo"] = {
            "reward_accuracy": run.get("dpo_eval_reward_accuracy") or {},
            "win_rate": (cycle.results.get("human") or {}).get("overall"),
        }
    return tables
