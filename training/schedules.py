"""A project's loop settings (its Schedule): read them, and save them after one validation shared by the schedule
page and the API, the same checks a cycle start makes (training.cycles.cycle_settings, training.policy)."""

from annotation.errors import InvalidInput
from training.cycles import cycle_settings
from training.models import Schedule
from training.policy import Policy
from training.scheduler import cron_check
from training.snapshots.config import snapshot_config as valid_snapshot_config

MAX_NEW_ANNOTATIONS = 1_000_000


def schedule_for(project) -> Schedule:
    """The project's saved loop settings, or unsaved defaults when none were saved yet."""
    return Schedule.objects.filter(project=project).select_related("updated_by").first() or Schedule(project=project)


def _problems(exc: InvalidInput, prefix: str) -> list[dict]:
    """exc's errors with their fields under `prefix` (snapshot options are fields of `snapshot_config`)."""
    found = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    if not prefix:
        return [{"field": e.get("field") or "", "message": e["message"]} for e in found]
    return [{"field": f"{prefix}.{e['field']}" if e.get("field") else prefix, "message": e["message"]} for e in found]


def schedule_update(
    *,
    project,
    user,
    enabled: bool,
    cron: str,
    min_new_annotations: int | None,
    snapshot_config: dict,
    run_config_yaml: str,
    policy: dict,
) -> Schedule:
    """Save the project's loop settings; InvalidInput lists every field at fault (`cron`, `min_new_annotations`,
    `snapshot_config.<option>`, `run_config_yaml`, `policy.<setting>`). A run config is required once the schedule
    is enabled; the policy is stored complete, defaults filled in."""
    cron = cron.strip()
    errors = []
    if cron:
        try:
            cron_check(cron)
        except ValueError as exc:
            errors.append({"field": "cron", "message": str(exc)})
    if min_new_annotations is not None and (
        isinstance(min_new_annotations, bool) or not 1 <= min_new_annotations <= MAX_NEW_ANNOTATIONS
    ):
        message = f"Must be empty, or a whole number of at least 1 and at most {MAX_NEW_ANNOTATIONS}."
        errors.append({"field": "min_new_annotations", "message": message})
    if enabled and not cron and not min_new_annotations:
        message = "A schedule that starts cycles needs a cron expression, a number of new annotations, or both."
        errors.append({"field": "enabled", "message": message})
    try:
        policy = Policy.from_dict(policy).as_dict()
    except InvalidInput as exc:
        errors += _problems(exc, "")
    if not isinstance(snapshot_config, dict):
        errors.append({"field": "snapshot_config", "message": "Must be an object of snapshot options."})
    else:
        try:
            valid_snapshot_config(snapshot_config)
        except InvalidInput as exc:
            errors += _problems(exc, "snapshot_config")
    if enabled or run_config_yaml.strip():
        try:
            cycle_settings(project, snapshot_config={}, run_config_yaml=run_config_yaml, policy={})
        except InvalidInput as exc:
            errors += _problems(exc, "")
    if errors:
        raise InvalidInput(f"{errors[0]['field']}: {errors[0]['message']}", field=errors[0]["field"], errors=errors)
    values = {
        "enabled": enabled,
        "cron": cron,
        "min_new_annotations": min_new_annotations,
        "snapshot_config": snapshot_config,
        "run_config_yaml": run_config_yaml,
        "policy": policy,
        "updated_by": user,
    }
    schedule, _ = Schedule.objects.update_or_create(project=project, defaults=values)
    return schedule
