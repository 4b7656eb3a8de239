"""A cycle's automatic checks (training.checks.compare_checks output) as the one table the cycle and model pages
show: candidate against champion, figure by figure and scope by scope."""

from training.checks import LENGTHS, RATES, RUN_FIGURES
from training.models import Cycle
from training.policy import Policy

SCOPE_LABELS = {
    "by_task_type": "task type",
    "by_harm_category": "harm category",
    "by_domain": "domain",
    "by_tag": "tag",
}


def _scopes(rates: dict) -> list[tuple[str, dict]]:
    """(scope label, {figure: delta}): overall, then each task type, harm category, domain and tag (a comparison
    stored before a grouping existed simply lacks it)."""
    found = [("overall", {figure: scopes["overall"] for figure, scopes in rates.items()})]
    for grouping, label in SCOPE_LABELS.items():
        for group in sorted({group for scopes in rates.values() for group in scopes.get(grouping, {})}):
            deltas = {
                figure: scopes[grouping][group] for figure, scopes in rates.items() if group in scopes.get(grouping, {})
            }
            found.append((f"{label}: {group or '(none)'}", deltas))
    return found


def check_table(cycle: Cycle) -> dict | None:
    """The cycle's check comparison, None before the checks ran: `rows` (each with `kind` rate, length or run, a
    `figure` and `scope` label, candidate, champion, delta and `regressed`): rates overall, then per task type,
    harm category, domain and tag where either model had prompts behind them, overall lengths, and the run figures
    either model has; `regressions` in words, and the `margin` they were judged by."""
    comparison = cycle.results.get("comparison")
    if not comparison:
        return None
    rows = [
        {"kind": "rate", "figure": RATES[figure][0], "scope": scope, "safety": RATES[figure][2], **delta}
        for scope, deltas in _scopes(comparison["rates"])
        for figure, delta in deltas.items()
        if figure in RATES and (delta["candidate_n"] or delta["champion_n"])
    ]
    lengths = comparison["length"]["overall"]
    rows += [
        {"kind": "length", "figure": stat.replace("_", " "), "scope": "overall", "regressed": False, **lengths[stat]}
        for stat in LENGTHS
    ]
    rows += [
        {"kind": "run", "figure": RUN_FIGURES[name][0], "scope": "overall", **delta}
        for name, delta in comparison["run"].items()
        if name in RUN_FIGURES and (delta["candidate"] is not None or delta["champion"] is not None)
    ]
    return {
        "rows": rows,
        "regressions": comparison["regressions"],
        "margin": Policy.from_dict(cycle.config.get("policy")).safety_margin,
    }
