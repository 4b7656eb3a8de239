"""What to collect next, from a cycle's evidence: per task type and per harm category, how often the candidate failed
(automatic checks and human losses) against how much of the snapshot it was trained on was of that kind. A group
that fails often and is scarce in the data needs more data of its kind ("coverage"); one that fails often although
it is well represented needs its data looked at ("quality"). `coverage_prioritise` turns the coverage task types
into the project's targets, so the assignment engine hands their items out first."""

from django.db import transaction

from annotation.errors import InvalidInput
from annotation.models import Project
from training.models import Cycle

HIGH_FAILURE = 0.5  # fails at least half its checks and comparisons
MIN_EVIDENCE = 5  # fewer checks and judgments than this say nothing either way
SCARCE = 0.5  # a share below half the dimension's average share is scarce
PRIORITY_BOOST = 2.0
ORDER = {"coverage": 0, "quality": 1, "fine": 2}
DIMENSIONS = {"task_type": "by_task_type", "harm_category": "by_harm_category"}


def _check_failures(figures: dict) -> dict[str, tuple[int, int]]:
    """(failures, checked) per check: refusals where an answer was due, answers where a refusal was, paraphrase
    groups that disagree, answers in the wrong format."""

    def missed(name: str) -> tuple[int, int]:
        share = figures.get(name) or {}
        return share.get("n", 0) - share.get("count", 0), share.get("n", 0)

    over = figures.get("over_refusal") or {}
    found = {
        "over_refusal": (over.get("count", 0), over.get("n", 0)),
        "refusal_miss": missed("refusal"),
        "inconsistent": missed("consistency"),
    }
    formats = [missed(name) for name in figures if name.startswith("format_")]
    found["format"] = (sum(failed for failed, _ in formats), sum(n for _, n in formats))
    return found


def _shares(counts: dict) -> dict[str, dict[str, int]]:
    """Rows of the snapshot per task type (SFT and DPO, every split) and per harm category (either safety side)."""
    rows = {"task_type": {}, "harm_category": {}}
    for per_type in (counts.get("task_types") or {}).values():
        for name, n in per_type.items():
            rows["task_type"][name] = rows["task_type"].get(name, 0) + n
    for key, n in (counts.get("harm_categories") or {}).items():
        name = key.split(":", 1)[-1]
        rows["harm_category"][name] = rows["harm_category"].get(name, 0) + n
    return rows


def _recommend(rate: float | None, evidence: int, share: float, average: float, target: float | None) -> tuple:
    if rate is None or evidence < MIN_EVIDENCE:
        return "fine", f"too little evidence ({evidence} checks and judgments)"
    if rate < HIGH_FAILURE:
        return "fine", f"fails {rate:.0%}"
    if target is not None and share < target:
        return "coverage", f"fails {rate:.0%}; {share:.0%} of the data, under its {target:.0%} target"
    if share < SCARCE * average:
        return "coverage", f"fails {rate:.0%}; {share:.0%} of the data, under half the average {average:.0%}"
    return "quality", f"fails {rate:.0%} with {share:.0%} of the data: review these items"


def collect_next(cycle: Cycle) -> list[dict]:
    """One row per task type and harm category the cycle has evidence on: the candidate's check failures and
    human losses, its failure rate, its rows and share of the snapshot (share within its dimension), the target
    share (task types), and a recommendation ("coverage", "quality" or "fine") with the reason; coverage first,
    then quality, worst first. Empty before the cycle's checks ran."""
    checks = ((cycle.results.get("checks") or {}).get("candidate")) or {}
    if not checks:
        return []
    human = (cycle.results.get("human") or {}).get("by_task_type") or {}
    rows_by = _shares(cycle.snapshot.counts if cycle.snapshot else {})
    mix = cycle.project.task_type_mix or {}
    found = []
    for dimension, grouping in DIMENSIONS.items():
        rows = {name: n for name, n in rows_by[dimension].items() if name != "(none)"}
        total = sum(rows_by[dimension].values())
        average = 1 / len(rows) if rows else 0.0
        judged_here = human if dimension == "task_type" else {}
        for group in sorted(set(checks.get(grouping) or {}) | {name for name in judged_here if name}):
            failures = _check_failures((checks.get(grouping) or {}).get(group) or {})
            check_failed = sum(failed for failed, _ in failures.values())
            checked = sum(n for _, n in failures.values())
            judged = judged_here.get(group) or {}
            losses, judgments = judged.get("losses", 0), judged.get("n", 0)
            evidence = checked + judgments
            rate = (check_failed + losses) / evidence if evidence else None
            share = rows.get(group, 0) / total if total else 0.0
            target = float(mix[group]) if dimension == "task_type" and group in mix else None
            recommendation, reason = _recommend(rate, evidence, share, average, target)
            found.append(
                {
                    "dimension": dimension,
                    "group": group,
                    "failures": {name: failed for name, (failed, _) in failures.items()},
                    "checked": checked,
                    "check_failures": check_failed,
                    "judgments": judgments,
                    "losses": losses,
                    "failure_rate": rate,
                    "rows": rows.get(group, 0),
                    "share": share,
                    "average_share": average,
                    "target": target,
                    "recommendation": recommendation,
                    "reason": reason,
                }
            )
    return sorted(found, key=lambda row: (ORDER[row["recommendation"]], -(row["failure_rate"] or 0), row["group"]))


def coverage_prioritise(*, project: Project, task_types: list[str]) -> dict[str, float]:
    """Raise the target share of `task_types` and hand their items out first: each one's target is multiplied by
    PRIORITY_BOOST (a type without one starts from the mean target), then the mix is scaled to sum to 1, so the
    other types keep their relative shares; with no targets yet, the mix starts even. Returns the new mix;
    InvalidInput if a type is not one of the project's."""
    wanted = list(dict.fromkeys(task_types))
    if not wanted:
        raise InvalidInput("Choose at least one task type to prioritise.", field="task_types")
    with transaction.atomic():
        project = Project.objects.select_for_update().get(id=project.id)
        unknown = [name for name in wanted if name not in project.task_types]
        if unknown:
            raise InvalidInput(f"Not task types of this project: {', '.join(unknown)}.", field="task_types")
        mix = {name: float(share) for name, share in (project.task_type_mix or {}).items() if share}
        if not mix:
            mix = dict.fromkeys(project.task_types, 1 / len(project.task_types))
        mean = sum(mix.values()) / len(mix)
        for name in wanted:
            mix[name] = mix.get(name, mean) * PRIORITY_BOOST
        total = sum(mix.values())
        project.task_type_mix = {name: round(share / total, 6) for name, share in mix.items()}
        project.prioritise_coverage = True
        project.save(update_fields=["task_type_mix", "prioritise_coverage"])
    return project.task_type_mix
