"""A project's settings: the one set of rules every surface (settings page, create page, API) checks them by, and
the services that change, archive and delete a project."""

import math
import re

from django.db import transaction
from django.db.models import Count, ProtectedError
from django.utils import timezone

from annotation.audit import Action, audit_record, changes
from annotation.errors import Conflict, InvalidInput
from annotation.models import Membership, Project
from annotation.projects import ensure_writable
from annotation.slots import open_slots_recount
from annotation.taxonomy import MAX_SHORT_CHARS, MAX_TEXT_CHARS, Kind, Role
from annotation.text import clean

MAX_NAME_CHARS = 200
MAX_LEASE_SECONDS = 7 * 24 * 3600
MAX_LABELS = 100
SETTINGS_FIELDS = (
    "name",
    "kinds",
    "task_types",
    "task_type_mix",
    "overlap",
    "lease_seconds",
    "gold_rate",
    "repeat_rate",
    "model_review_share",
    "require_rationale",
    "require_review",
    "prioritise_coverage",
    "queue_choice",
    "harm_categories",
    "system_prompt",
)
RATES = {"gold_rate": 1.0, "repeat_rate": 0.5, "model_review_share": 1.0}
FLAGS = ("require_rationale", "require_review", "prioritise_coverage", "queue_choice")
_SLUG = re.compile(r"^[a-z0-9_-]+$")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _labels(value, field: str, errors: list) -> list[str]:
    """A list of distinct slug-like labels (task types, harm categories)."""
    if not isinstance(value, list) or not value:
        errors.append((field, "must be a non-empty list"))
        return []
    if len(value) > MAX_LABELS:
        errors.append((field, f"has more than {MAX_LABELS} entries"))
    bad = [str(label) for label in value if not (isinstance(label, str) and _SLUG.match(label))]
    if bad:
        errors.append((field, f"{bad[0]!r} is not a label (lower-case letters, digits, '_' and '-')"))
    elif too_long := [label for label in value if len(label) > MAX_SHORT_CHARS]:
        errors.append((field, f"{too_long[0][:20]!r}… is over {MAX_SHORT_CHARS} characters"))
    elif len(set(value)) != len(value):
        errors.append((field, "lists a label twice"))
    return value


def settings_check(values: dict, *, current: Project) -> dict:
    """`values` checked against every settings rule (`current` gives the task types a mix may name when `values`
    does not change them); InvalidInput listing each bad field."""
    values = clean(values, "")
    errors: list[tuple[str, str]] = []
    for name in sorted(set(values) - set(SETTINGS_FIELDS)):
        errors.append((name, "is not a setting that can be changed here"))
    checked = {name: values[name] for name in SETTINGS_FIELDS if name in values}
    if "name" in checked:
        name = checked["name"]
        if not isinstance(name, str) or not name.strip():
            errors.append(("name", "must not be empty"))
        elif len(name) > MAX_NAME_CHARS:
            errors.append(("name", f"is over {MAX_NAME_CHARS} characters"))
        else:
            checked["name"] = name.strip()
    if "kinds" in checked:
        kinds = checked["kinds"]
        if not isinstance(kinds, list) or not kinds:
            errors.append(("kinds", "enable at least one kind"))
        elif unknown := [str(kind) for kind in kinds if kind not in Kind.values]:
            errors.append(("kinds", f"unknown kind {unknown[0]!r}; expected {', '.join(Kind.values)}"))
        else:
            checked["kinds"] = [kind for kind in Kind.values if kind in kinds]
    for field in ("task_types", "harm_categories"):
        if field in checked:
            _labels(checked[field], field, errors)
    if "task_type_mix" in checked:
        _check_mix(checked["task_type_mix"], checked.get("task_types", current.task_types), errors)
    if "overlap" in checked and not (_whole(checked["overlap"]) and 1 <= checked["overlap"] <= 50):
        errors.append(("overlap", "must be a whole number from 1 to 50"))
    if "lease_seconds" in checked:
        lease = checked["lease_seconds"]
        if not (_whole(lease) and 30 <= lease <= MAX_LEASE_SECONDS):
            errors.append(("lease_seconds", f"must be a whole number of seconds from 30 to {MAX_LEASE_SECONDS}"))
    for field, top in RATES.items():
        if field in checked and not (_number(checked[field]) and 0 <= checked[field] <= top):
            errors.append((field, f"must be a number from 0 to {top:g}"))
    for field in FLAGS:
        if field in checked and not isinstance(checked[field], bool):
            errors.append((field, "must be true or false"))
    if "system_prompt" in checked:
        prompt = checked["system_prompt"]
        if not isinstance(prompt, str):
            errors.append(("system_prompt", "must be text"))
        elif len(prompt) > MAX_TEXT_CHARS:
            errors.append(("system_prompt", f"is over {MAX_TEXT_CHARS} characters"))
    if errors:
        field, message = errors[0]
        listed = [{"field": name, "message": text} for name, text in errors]
        raise InvalidInput(f"{field}: {message}", field=field, errors=listed)
    return checked


def _check_mix(mix, task_types, errors: list) -> None:
    if not isinstance(mix, dict):
        errors.append(("task_type_mix", "must be an object of task type to share"))
        return
    if unknown := sorted(set(mix) - set(task_types or [])):
        errors.append(("task_type_mix", f"unknown task type(s): {', '.join(unknown)}"))
    elif bad := [name for name, share in mix.items() if not (_number(share) and 0 <= share <= 1)]:
        errors.append(("task_type_mix", f"the share of {bad[0]} must be a number from 0 to 1"))
    elif sum(mix.values()) > 1.0001:
        errors.append(("task_type_mix", f"shares add up to {sum(mix.values()):.2f}, more than 1"))


def mix_total(mix: dict) -> float:
    """The sum of a task-type mix's shares (1.0 is the whole: the settings page warns when it is anything else)."""
    return round(sum(share for share in mix.values() if _number(share)), 4)


def _locked(project: Project) -> Project:
    # NO KEY: a claim inserting an assignment takes KEY SHARE on the project row while it holds an item lock; a
    # plain FOR UPDATE here would wait on it while the recount waits on the item (a deadlock).
    return Project.objects.select_for_update(no_key=True).get(id=project.id)


def project_update(*, project: Project, by, **fields) -> Project:
    """Change settings (SETTINGS_FIELDS); audited with what changed. A new overlap recounts every item's open slots
    in the same transaction, so leases taken meanwhile are counted."""
    with transaction.atomic():
        locked = _locked(project)
        ensure_writable(locked)
        checked = settings_check(fields, current=locked)
        before, after = changes({name: getattr(locked, name) for name in checked}, checked)
        if not after:
            return locked
        _labels_still_used(locked, before, after)
        for name, value in after.items():
            setattr(locked, name, value)
            setattr(project, name, value)
        locked.save(update_fields=list(after))
        audit_record(
            actor=by, project=locked, action=Action.PROJECT_UPDATE, target=locked.slug, before=before, after=after
        )
        if "overlap" in after:
            open_slots_recount(project=locked)
    return locked


_LABEL_COLUMNS = {"kinds": "kind", "task_types": "task_type", "harm_categories": "harm_category"}


def _labels_still_used(project: Project, before: dict, after: dict) -> None:
    """Refuse to drop a kind, task type or harm category that items still carry: their export would no longer
    import back, and the dashboards would count a category nobody can choose."""
    errors = []
    for field, column in _LABEL_COLUMNS.items():
        if field not in after:
            continue
        dropped = set(before[field]) - set(after[field])
        used = (
            project.items.filter(**{f"{column}__in": dropped})
            .values_list(column)
            .annotate(n=Count("id"))
            .order_by(column)
        )
        if used := list(used):
            named = ", ".join(f"{label} ({n} item{'s' if n != 1 else ''})" for label, n in used)
            errors.append({"field": field, "message": f"still used by items: {named}; keep it"})
    if errors:
        raise InvalidInput(f"{errors[0]['field']}: {errors[0]['message']}", field=errors[0]["field"], errors=errors)


def _set_archived(project: Project, by, archived: bool) -> Project:
    with transaction.atomic():
        locked = _locked(project)
        if (locked.archived_at is not None) == archived:
            raise Conflict(f"The project is already {'archived' if archived else 'active'}.")
        before = locked.archived_at.isoformat() if locked.archived_at else None
        locked.archived_at = timezone.now() if archived else None
        locked.save(update_fields=["archived_at"])
        project.archived_at = locked.archived_at
        audit_record(
            actor=by,
            project=locked,
            action=Action.PROJECT_ARCHIVE if archived else Action.PROJECT_UNARCHIVE,
            target=locked.slug,
            before={"archived_at": before},
            after={"archived_at": locked.archived_at.isoformat() if locked.archived_at else None},
        )
    return locked


def project_archive(*, project: Project, by) -> Project:
    """Make the project read-only: no new work, submissions, drafts, reviews or setting changes until unarchived."""
    return _set_archived(project, by, True)


def project_unarchive(*, project: Project, by) -> Project:
    """Make an archived project writable again."""
    return _set_archived(project, by, False)


def project_delete(*, project: Project, by, confirm_name: str) -> None:
    """Delete the project and all its data, for good: only its admins, and only when `confirm_name` is its name
    exactly. The audit event stays (its project becomes null, its slug is kept)."""
    if not Membership.objects.filter(project=project, user=by, role=Role.ADMIN).exists():
        raise Conflict("Only the project's admins can delete it.")
    if not isinstance(confirm_name, str) or confirm_name != project.name:
        raise InvalidInput("Type the project's name exactly to confirm the deletion.", field="confirm")
    try:
        with transaction.atomic():
            audit_record(
                actor=by,
                project=project,
                action=Action.PROJECT_DELETE,
                target=project.slug,
                before={"name": project.name, "slug": project.slug},
            )
            project.delete()
    except ProtectedError as exc:
        raise Conflict(
            "The project has snapshots, models or training cycles, which are kept for good; archive it instead."
        ) from exc
