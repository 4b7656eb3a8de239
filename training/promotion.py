"""Deciding which model version serves a project: promote one to champion (the one before it retires) or reject a
candidate. Each decision is kept as a ModelDecision. A retired former champion may be promoted again, a rollback;
a rejected candidate stays rejected, so a model found wanting is not brought back by mistake. A decision on the
candidate of a cycle waiting for its decision ends that cycle, whoever took it."""

from django.db import transaction

from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from training.models import Cycle, ModelDecision, ModelVersion

Status = ModelVersion.Status
Decision = ModelDecision.Decision
STATUS_AFTER = {
    Decision.PROMOTED: Status.CHAMPION,
    Decision.RETIRED: Status.RETIRED,
    Decision.REJECTED: Status.REJECTED,
}


def model_promote(*, version: ModelVersion, user, reason: str = "", automatic: bool = False) -> ModelVersion:
    """Make `version` its project's champion and retire the current one, in one transaction; Conflict if it is
    already champion or was rejected. `automatic` marks a decision the system took, not `user`."""
    with transaction.atomic():
        # Every version of the project, locked in one order: a promotion running at the same time waits here and
        # then sees this one's champion, so exactly one remains.
        versions = list(ModelVersion.objects.select_for_update().filter(project_id=version.project_id).order_by("id"))
        version = next(found for found in versions if found.id == version.id)
        if version.status == Status.CHAMPION:
            raise Conflict(f"{version.name} is already the champion.")
        if version.status == Status.REJECTED:
            raise Conflict(f"{version.name} was rejected; a rejected model cannot be promoted.")
        champions = [found for found in versions if found.status == Status.CHAMPION]
        before = {"status": version.status, "champion": champions[0].name if champions else None}
        for champion in champions:
            _decide(champion, Decision.RETIRED, user=user, reason=f"Replaced by {version.name}.", automatic=automatic)
        _decide(version, Decision.PROMOTED, user=user, reason=reason, automatic=automatic)
        after = {"status": version.status, "champion": version.name, "reason": reason, "automatic": automatic}
        audit_record(
            actor=user,
            project=version.project,
            action=Action.MODEL_PROMOTE,
            target=version.name,
            before=before,
            after=after,
        )
    return version


def model_reject(*, version: ModelVersion, user, reason: str, automatic: bool = False) -> ModelVersion:
    """Reject a candidate for good, saying why (InvalidInput on `reason` if blank); Conflict for any other status."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the model is rejected.", field="reason")
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(id=version.id)
        if version.status != Status.CANDIDATE:
            raise Conflict(f"{version.name} is {version.status}; only a candidate can be rejected.")
        before = {"status": version.status}
        _decide(version, Decision.REJECTED, user=user, reason=reason, automatic=automatic)
        after = {"status": version.status, "reason": reason, "automatic": automatic}
        audit_record(
            actor=user,
            project=version.project,
            action=Action.MODEL_REJECT,
            target=version.name,
            before=before,
            after=after,
        )
    return version


def _decide(version: ModelVersion, decision: str, *, user, reason: str, automatic: bool) -> None:
    version.status = STATUS_AFTER[decision]
    version.save(update_fields=["status"])
    made = ModelDecision.objects.create(
        model_version=version, decision=decision, reason=reason, decided_by=user, automatic=automatic
    )
    if decision != Decision.RETIRED:
        _end_waiting_cycles(made)


def _end_waiting_cycles(made: ModelDecision) -> None:
    who = "automatically" if made.automatic else f"by {made.decided_by.username if made.decided_by else '?'}"
    for cycle in Cycle.objects.select_for_update().filter(candidate=made.model_version, status=Cycle.Status.WAITING):
        cycle.results = {**cycle.results, "decision": {"decision": made.decision, "id": made.id}}
        cycle.end(Cycle.Status.SUCCEEDED, step_status="succeeded", note=f"{made.decision} {who}: {made.reason}")
        cycle.save()
