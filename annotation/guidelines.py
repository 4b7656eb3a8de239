"""Versioned project guidelines: saving a new version, the diff between versions, and the one-time notice that
tells a member what changed since they last looked."""

import difflib
from dataclasses import dataclass

from django.db import transaction

from annotation.audit import Action, audit_record
from annotation.errors import InvalidInput
from annotation.models import GuidelineVersion, Membership, Project
from annotation.projects import ensure_writable
from annotation.text import clean_fields

MAX_GUIDELINES_CHARS = 200_000
MAX_NOTE_CHARS = 500
CONTEXT_LINES = 3


@dataclass
class GuidelinesNotice:
    version: int
    since: int
    rows: list[tuple[str, str]]


def guidelines_save(*, project: Project, by, text: str, note: str = "") -> GuidelineVersion:
    """Save `text` as the project's next guideline version (InvalidInput when it is unchanged or too long)."""
    text, note = clean_fields(text=text, note=note)
    if not isinstance(text, str) or not isinstance(note, str):
        raise InvalidInput("text and note must be text.", field="text")
    note = note.strip()
    if len(text) > MAX_GUIDELINES_CHARS:
        raise InvalidInput(f"The guidelines are over {MAX_GUIDELINES_CHARS} characters.", field="text")
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(f"The note is over {MAX_NOTE_CHARS} characters.", field="note")
    with transaction.atomic():
        locked = Project.objects.select_for_update(no_key=True).get(id=project.id)
        ensure_writable(locked)
        if text == locked.guidelines:
            raise InvalidInput("The guidelines are unchanged; edit the text before saving.", field="text")
        if locked.guidelines_version == 0 and locked.guidelines:
            # Text written before versioning (at creation) becomes version 0, so that v1 has a predecessor to diff.
            GuidelineVersion.objects.create(project=locked, number=0, text=locked.guidelines, note="As created.")
        number = locked.guidelines_version + 1
        version = GuidelineVersion.objects.create(project=locked, number=number, text=text, note=note, author=by)
        Project.objects.filter(id=locked.id).update(guidelines=text, guidelines_version=number)
        audit_record(
            actor=by,
            project=locked,
            action=Action.GUIDELINES_UPDATE,
            target=f"guidelines v{number}",
            before={"version": locked.guidelines_version, "chars": len(locked.guidelines)},
            after={"version": number, "chars": len(text), "note": note},
        )
    project.guidelines, project.guidelines_version = text, number
    return version


def guidelines_text(project: Project, number: int) -> str:
    """The text of version `number` ("" for a version never saved, e.g. 0 of a project created without text)."""
    if number == project.guidelines_version:
        return project.guidelines
    return GuidelineVersion.objects.filter(project=project, number=number).values_list("text", flat=True).first() or ""


def text_diff(old: str, new: str) -> list[tuple[str, str]]:
    """A line diff as (mark, line) rows: '+' added, '-' removed, ' ' context, '@' a gap between hunks."""
    rows = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=CONTEXT_LINES):
        if line.startswith(("---", "+++")) or (line.startswith("@@") and not rows):
            continue
        rows.append(("@", "…") if line.startswith("@@") else (line[:1], line[1:]))
    return rows


def guidelines_diff(project: Project, since_version: int, until_version: int | None = None) -> list[tuple[str, str]]:
    """What changed from version `since_version` to `until_version` (default: the current one)."""
    until = project.guidelines_version if until_version is None else until_version
    return text_diff(guidelines_text(project, since_version), guidelines_text(project, until))


def guidelines_notice(membership: Membership) -> GuidelinesNotice | None:
    """The change since the member last saw the guidelines, once: the first caller after a change gets it and marks
    it seen (a conditional update, so two tabs opening at once show it once)."""
    project = membership.project
    current, seen = project.guidelines_version, membership.guidelines_seen
    if seen >= current:
        return None
    marked = Membership.objects.filter(id=membership.id, guidelines_seen__lt=current).update(guidelines_seen=current)
    membership.guidelines_seen = current
    if not marked:
        return None
    return GuidelinesNotice(version=current, since=seen, rows=guidelines_diff(project, seen))
