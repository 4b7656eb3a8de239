"""Item tags (edge_case, rare, a domain scenario): the one rule for a tag's text, and the reads and writes of them.
Evaluation reports every tag on its own, so the tail of the data is never averaged away."""

import re
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count

from annotation.audit import AUDITED_IDS, Action, audit_record
from annotation.errors import InvalidInput
from annotation.models import Item, ItemTag, Project
from annotation.projects import ensure_writable

MAX_TAG_CHARS = 64
MAX_TAGS = 20
TAG_RULE = "lower-case letters, digits and _ . : - only, starting with a letter or digit"
_TAG = re.compile(r"[a-z0-9][a-z0-9_.:-]*")
_BATCH = 5000


def clean_tag(value) -> str:
    """One tag, stripped and lower-cased; InvalidInput (field `tags`) naming the tag when it breaks the rule."""
    if not isinstance(value, str):
        raise InvalidInput(f"A tag must be a string, not {type(value).__name__}.", field="tags")
    tag = value.strip().lower()
    if not tag:
        raise InvalidInput("A tag must not be blank.", field="tags")
    if len(tag) > MAX_TAG_CHARS:
        raise InvalidInput(f"Tag {tag[:20]!r}… is {len(tag)} characters; the limit is {MAX_TAG_CHARS}.", field="tags")
    if not _TAG.fullmatch(tag):
        raise InvalidInput(f"{tag!r} is not allowed as a tag: use {TAG_RULE}.", field="tags")
    return tag


def clean_tags(value) -> list[str]:
    """A list of tags as stored: each cleaned by clean_tag, duplicates dropped (first kept), at most MAX_TAGS."""
    if not isinstance(value, list):
        raise InvalidInput(f"Tags must be a list of strings, not {type(value).__name__}.", field="tags")
    tags = list(dict.fromkeys(clean_tag(tag) for tag in value))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"{len(tags)} tags; an item has at most {MAX_TAGS}.", field="tags")
    return tags


def item_tags(item_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each listed item's tags, sorted; an item without tags is left out."""
    ids = list(item_ids)
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), _BATCH):
        rows = ItemTag.objects.filter(item_id__in=ids[start : start + _BATCH]).order_by("item_id", "name")
        for item_id, name in rows.values_list("item_id", "name"):
            found.setdefault(item_id, []).append(name)
    return found


def project_tags(project: Project) -> list[tuple[str, int]]:
    """Every tag in the project with how many items carry it, by name: the data browser's tag filter."""
    rows = ItemTag.objects.filter(item__project=project).values("name").annotate(n=Count("id")).order_by("name")
    return [(row["name"], row["n"]) for row in rows]


@transaction.atomic
def items_tag(*, project: Project, by, item_ids: list[int], add: list, remove: list) -> int:
    """Add the tags `add` to, and take `remove` off, the project's items among `item_ids` (audited); return how
    many items changed. An item may not end up with more than MAX_TAGS tags."""
    ensure_writable(project)
    add, remove = clean_tags(add), clean_tags(remove)
    if not add and not remove:
        raise InvalidInput("Give a tag to add or remove.", field="tags")
    if both := sorted(set(add) & set(remove)):
        raise InvalidInput(f"Tag {both[0]!r} cannot be added and removed at once.", field="tags")
    changed: set[int] = set()
    wanted = list(item_ids)
    for start in range(0, len(wanted), _BATCH):
        ids = list(
            Item.objects.filter(project=project, id__in=wanted[start : start + _BATCH]).values_list("id", flat=True)
        )
        changed |= _tag_batch(ids, add, remove)
    if changed:
        ordered = sorted(changed)
        audit_record(
            actor=by,
            project=project,
            action=Action.ITEM_TAG,
            target=f"item {ordered[0]}" if len(ordered) == 1 else f"{len(ordered)} items",
            after={"items": ordered[:AUDITED_IDS], "count": len(ordered), "add": add, "remove": remove},
        )
    return len(changed)


def _tag_batch(ids: list[int], add: list[str], remove: list[str]) -> set[int]:
    changed: set[int] = set()
    if remove:
        gone = ItemTag.objects.filter(item_id__in=ids, name__in=remove)
        changed |= set(gone.values_list("item_id", flat=True))
        gone.delete()
    if not add:
        return changed
    held = item_tags(ids)
    new = []
    for item_id in ids:
        tags = held.get(item_id, [])
        fresh = [tag for tag in add if tag not in tags]
        if len(tags) + len(fresh) > MAX_TAGS:
            raise InvalidInput(f"Item {item_id} would have over {MAX_TAGS} tags; remove some first.", field="tags")
        new += [ItemTag(item_id=item_id, name=tag) for tag in fresh]
        changed |= {item_id} if fresh else set()
    ItemTag.objects.bulk_create(new, ignore_conflicts=True)
    return changed
