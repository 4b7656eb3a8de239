"""The decision step of a waiting cycle, taken on evidence: the human comparison's win rate and the automatic checks,
under the cycle's promotion policy (training.policy). Run by the scheduler's every tick and after each look at the
cycle page, so it settles as soon as the evidence does; an admin may decide first (training.promotion)."""

import logging

from django.db import transaction
from django.utils import timezone

from annotation.models import Assignment, Item
from training.cycle_evaluation import evaluation_publish
from training.model_review import model_review_results
from training.models import Cycle, ModelVersion
from training.policy import Policy
from training.promotion import model_promote, model_reject

logger = logging.getLogger(__name__)


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
    forgetting = (cycle.results.get("evaluation") or {}).get("forgetting") or {}
    forgot = forgetting.get("forgot", False)
    cleared = overall["interval"] is not None and overall["interval"][0] > 0.5
    enough = overall["n"] >= policy.min_judgments
    if policy.auto_promote and cleared and enough and not safety and not forgot:
        kept = " and the general eval held up" if forgetting.get("judged") else ""
        return "promote", f"{figures}: the lower bound clears 50%, no safety check regressed{kept}."
    held = f"; not promoted on its own. {forgetting['message']}" if forgot else ""
    if not _all_judged(cycle):
        return "wait", figures + held
    if not policy.auto_reject:
        return "wait", f"{figures}{held}; every comparison is judged: an admin decides."
    if safety:
        return "reject", f"{figures}; safety regressed beyond {_percent(policy.safety_margin)}: {'; '.join(safety)}."
    if forgot:
        return "reject", f"{figures}; {forgetting['message']}"
    if not enough:
        return "reject", f"{figures}: fewer than the {policy.min_judgments} judgments the policy needs."
    return "reject", f"{figures}: the lower bound does not clear 50%."


def cycle_decide(cycle: Cycle) -> Cycle:
    """Record the human results on a waiting cycle and take its decision when the policy says so; a look that
    finds nothing new writes nothing."""
    human = human_results(cycle)
    action, reason = verdict(cycle, human)
    unchanged = cycle.results.get("human") == human and cycle.results.get("verdict") == reason
    if action == "wait" and unchanged and cycle.candidate.status == ModelVersion.Status.CANDIDATE:
        return cycle
    with transaction.atomic():
        # The project's versions first, in model_promote's order, then the cycle, as an admin's decision locks
        # them: the two never wait on each other crosswise.
        list(ModelVersion.objects.select_for_update().filter(project_id=cycle.project_id).order_by("id"))
        cycle = Cycle.objects.select_for_update(of=("self",)).select_related("candidate").get(id=cycle.id)
        if cycle.status != Cycle.Status.WAITING:
            return cycle
        cycle.results = {**cycle.results, "human": human, "verdict": reason}
        cycle.save(update_fields=["results", "updated_at"])
        evaluation_publish(cycle)
        candidate = cycle.candidate
        if candidate.status != ModelVersion.Status.CANDIDATE:  # decided elsewhere while the cycle ran
            note = f"{candidate.name} was already {candidate.status} when the comparison finished."
            cycle.end(Cycle.Status.SUCCEEDED, step_status="succeeded", note=note)
            cycle.save()
        elif action == "promote":
            model_promote(version=candidate, user=None, reason=reason, automatic=True)
        elif action == "reject":
            model_reject(version=candidate, user=None, reason=reason, automatic=True)
    cycle.refresh_from_db()
    return cycle


def cycles_decide() -> list[Cycle]:
    """Look at every waiting cycle once; return those that ended. A cycle that cannot be decided is logged and left
    for the next look, so it never holds up the others."""
    waiting = Cycle.objects.filter(status=Cycle.Status.WAITING).select_related("project", "candidate", "champion")
    ended = []
    for cycle in waiting:
        try:
            cycle = cycle_decide(cycle)
        except Exception:  # noqa: BLE001 - one broken cycle must not stop the scheduler for every project
            logger.exception("Cycle %s could not be decided", cycle.id)
            continue
        if cycle.status != Cycle.Status.WAITING:
            ended.append(cycle)
    return ended
