"""The decision step of a waiting cycle, taken on evidence: the human comparison's win rate and the automatic checks,
under the cycle's promotion policy (training.policy). Run by the scheduler's every tick and after each look at the
cycle page, so it settles as soon as the evidence does; an admin may decide first (training.promotion)."""

from django.db import transaction
from django.utils import timezone

from annotation.models import Assignment, Item
from training.model_review import model_review_results
from training.models import Cycle, ModelVersion
from training.policy import Policy
from training.promotion import model_promote, model_reject


def _percent(value: float) -> str:
    return f"{value:.1%}"


def human_results(cycle: Cycle) -> dict:
    """The candidate's win/tie/loss against the champion so far, overall and per task type, as plain data."""
    found = model_review_results(project=cycle.project, candidate=cycle.candidate, champion=cycle.champion)

    def plain(rate) -> dict:
        return {
            "wins": rate.wins,
            "ties": rate.ties,
            "losses": rate.losses,
            "n": rate.n,
            "prompts": rate.prompts,
            "rate": rate.rate,
            "interval": list(rate.interval) if rate.interval else None,
        }

    return {
        "overall": plain(found.overall),
        "by_task_type": {name: plain(rate) for name, rate in found.by_task_type.items()},
        "items": found.items,
    }


def _all_judged(cycle: Cycle) -> bool:
    items = cycle.results.get("review_items") or []
    if Item.objects.filter(id__in=items, open_slots__gt=0).exists():
        return False
    live = Assignment.objects.filter(item_id__in=items, status=Assignment.Status.ACTIVE, expires_at__gt=timezone.now())
    return not live.exists()


def verdict(cycle: Cycle, human: dict) -> tuple[str, str]:
    """("promote" | "reject" | "wait", the reason in words) for a waiting cycle under its policy."""
    policy = Policy.from_dict(cycle.config.get("policy"))
    overall = human["overall"]
    safety = [r["message"] for r in cycle.results.get("comparison", {}).get("regressions", []) if r["safety"]]
    if overall["rate"] is None:
        figures = "no judgments yet"
    else:
        low, high = overall["interval"] or (overall["rate"], overall["rate"])
        figures = (
            f"win rate {_percent(overall['rate'])} (95% interval {_percent(low)}–{_percent(high)}) over "
            f"{overall['n']} judgments of {overall['prompts']} prompts"
        )
    cleared = overall["interval"] is not None and overall["interval"][0] > 0.5
    enough = overall["n"] >= policy.min_judgments
    if policy.auto_promote and cleared and enough and not safety:
        return "promote", f"{figures}: the lower bound clears 50% and no safety check regressed."
    if not _all_judged(cycle):
        return "wait", figures
    if not policy.auto_reject:
        return "wait", f"{figures}; every comparison is judged: an admin decides."
    if safety:
        return "reject", f"{figures}; safety regressed beyond {_percent(policy.safety_margin)}: {'; '.join(safety)}."
    if not enough:
        return "reject", f"{figures}: fewer than the {policy.min_judgments} judgments the policy needs."
    return "reject", f"{figures}: the lower bound does not clear 50%."


def cycle_decide(cycle: Cycle) -> Cycle:
    """Record the human results on a waiting cycle and take its decision when the policy says so."""
    human = human_results(cycle)
    action, reason = verdict(cycle, human)
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update(of=("self",)).select_related("candidate").get(id=cycle.id)
        if cycle.status != Cycle.Status.WAITING:
            return cycle
        cycle.results = {**cycle.results, "human": human, "verdict": reason}
        cycle.save(update_fields=["results", "updated_at"])
        candidate = cycle.candidate
        if candidate.status != ModelVersion.Status.CANDIDATE:  # decided elsewhere while the cycle ran
            _decided_elsewhere(cycle)
        elif action == "promote":
            model_promote(version=candidate, user=None, reason=reason, automatic=True)
        elif action == "reject":
            model_reject(version=candidate, user=None, reason=reason, automatic=True)
    cycle.refresh_from_db()
    return cycle


def _decided_elsewhere(cycle: Cycle) -> None:
    step = next(step for step in cycle.steps if step["name"] == "decision")
    note = f"{cycle.candidate.name} was already {cycle.candidate.status} when the comparison finished."
    step.update(status="succeeded", finished_at=timezone.now().isoformat(), log=note)
    cycle.status, cycle.finished_at = Cycle.Status.SUCCEEDED, timezone.now()
    cycle.log += f"decision: {note}\n"
    cycle.save()


def cycles_decide() -> list[Cycle]:
    """Look at every waiting cycle once; return those that ended."""
    waiting = Cycle.objects.filter(status=Cycle.Status.WAITING).select_related("project", "candidate", "champion")
    return [cycle for cycle in map(cycle_decide, waiting) if cycle.status != Cycle.Status.WAITING]
