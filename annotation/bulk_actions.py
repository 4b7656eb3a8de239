"""Admins acting on many items at once: back to the pool with a higher overlap, gold marks, exclusion from exports,
and the selection downloaded as JSONL (the import format) or CSV."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Least
from django.http import StreamingHttpResponse

from annotation.audit import AUDITED_IDS, Action, audit_record
from annotation.errors import InvalidInput
from annotation.models import Adjudication, Annotation, Item, Membership, Project
from annotation.projects import ensure_writable
from annotation.review import item_set_gold
from annotation.slots import open_slots_recount
from annotation.tags import item_tags
from annotation.taxonomy import PAIRWISE_KINDS, TIE, Kind

MAX_EXTRA_OVERLAP = 50
MAX_REASON_CHARS = 500
MAX_SELECTION = 100_000
CONTENT_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}
CSV_COLUMNS = [
    "id",
    "kind",
    "prompt",
    "task_type",
    "domain",
    "safety",
    "harm_category",
    "responses",
    "completed_count",
    "is_gold",
    "excluded_reason",
    "tags",
    "created_at",
]
_EXPORT_CHUNK = 2000


def selected_ids(*, project: Project, item_ids: Iterable[int]) -> list[int]:
    """The checked ids, each an item of `project`; any other id is refused by name (nothing is acted on)."""
    wanted = sorted(set(item_ids))
    if not wanted:
        raise InvalidInput("Select at least one item.", field="item_ids")
    if len(wanted) > MAX_SELECTION:
        raise InvalidInput(f"Select at most {MAX_SELECTION} items at once.", field="item_ids")
    found = set(Item.objects.filter(project=project, id__in=wanted).values_list("id", flat=True))
    if missing := [item_id for item_id in wanted if item_id not in found]:
        raise InvalidInput(f"No item {missing[0]} in this project.", field="item_ids")
    return wanted


def matching_ids(items: QuerySet[Item]) -> list[int]:
    """Every id of a browse query ("all rows matching the filter")."""
    ids = list(items.order_by("id").values_list("id", flat=True)[: MAX_SELECTION + 1])
    if len(ids) > MAX_SELECTION:
        raise InvalidInput(f"The filter matches over {MAX_SELECTION} items; narrow it.", field="scope")
    if not ids:
        raise InvalidInput("No item matches the filter.", field="scope")
    return ids


@transaction.atomic
def items_requeue(*, project: Project, by, item_ids: list[int], extra: int) -> int:
    """Send items back to the pool for `extra` more annotators each; return how many items now have open slots."""
    ensure_writable(project)
    if not 1 <= extra <= MAX_EXTRA_OVERLAP:
        raise InvalidInput(f"Ask for 1 to {MAX_EXTRA_OVERLAP} more annotators.", field="extra")
    items = Item.objects.filter(project=project, id__in=item_ids, is_gold=False)
    items.update(extra_overlap=Least(F("extra_overlap") + extra, MAX_EXTRA_OVERLAP))
    open_slots_recount(project=project, item_ids=item_ids)
    audit_record(
        actor=by,
        project=project,
        action=Action.ITEM_REQUEUE,
        target=_target(item_ids),
        after=_ids(item_ids, extra=extra),
    )
    return items.filter(open_slots__gt=0).count()


def items_exclude(*, project: Project, by, item_ids: list[int], reason: str) -> int:
    """Take items out of every export for `reason` (required); return how many changed."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why these items are excluded from exports.", field="reason")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"The reason is over {MAX_REASON_CHARS} characters.", field="reason")
    return _exclusion_set(project=project, by=by, item_ids=item_ids, reason=reason)


def items_include(*, project: Project, by, item_ids: list[int]) -> int:
    """Put excluded items back into exports; return how many changed."""
    return _exclusion_set(project=project, by=by, item_ids=item_ids, reason="")


@transaction.atomic
def _exclusion_set(*, project: Project, by, item_ids: list[int], reason: str) -> int:
    ensure_writable(project)
    items = Item.objects.filter(project=project, id__in=item_ids).exclude(excluded_reason=reason)
    before = dict(items.values_list("id", "excluded_reason"))
    changed = items.update(excluded_reason=reason)
    audit_record(
        actor=by,
        project=project,
        action=Action.ITEM_EXCLUDE if reason else Action.ITEM_INCLUDE,
        target=_target(item_ids),
        before={str(item_id): old for item_id, old in list(before.items())[:AUDITED_IDS]} | {"count": len(before)},
        after=_ids(sorted(before), reason=reason),
    )
    return changed


@transaction.atomic
def items_gold_set(*, membership: Membership, item_ids: list[int]) -> dict:
    """Mark items gold where an answer follows from the data: the adjudication of a pairwise item, else a unanimous
    choice of two or more judgments. Returns {"set": [ids], "refused": {id: why}}."""
    ensure_writable(membership.project)
    items = Item.objects.filter(project=membership.project, id__in=item_ids).only("id", "kind", "is_gold")
    adjudications = dict(Adjudication.objects.filter(item_id__in=item_ids).values_list("item_id", "choice"))
    choices: dict[int, list] = {}
    judgments = Annotation.objects.filter(item_id__in=item_ids, kind__in=PAIRWISE_KINDS, is_repeat=False)
    for item_id, choice in judgments.values_list("item_id", "payload__choice"):
        choices.setdefault(item_id, []).append(choice)
    done, refused = [], {}
    for item in items.order_by("id"):
        gold, why = _derived_gold(item, adjudications, choices)
        if gold is None:
            refused[item.id] = why
            continue
        try:
            item_set_gold(membership=membership, item_id=item.id, gold=gold)
        except InvalidInput as exc:
            refused[item.id] = exc.message
        else:
            done.append(item.id)
    return {"set": done, "refused": refused}


def _derived_gold(item: Item, adjudications: dict, choices: dict) -> tuple[dict | None, str]:
    if item.is_gold:
        return None, "already gold"
    if item.kind not in PAIRWISE_KINDS:
        return None, f"a {item.kind} item's gold answer is a written response: set it on the item page"
    if item.id in adjudications:
        return {"choice": adjudications[item.id]}, ""
    votes = choices.get(item.id, [])
    if len(votes) < 2:
        return None, "fewer than two judgments and no adjudication"
    if not (votes[0] == TIE or isinstance(votes[0], int)):
        return None, "a ranked item: adjudicate it, then set its gold answer on the item page"
    if any(vote != votes[0] for vote in votes):
        return None, "the judgments disagree: adjudicate the item first"
    return {"choice": votes[0]}, ""


@transaction.atomic
def items_gold_clear(*, membership: Membership, item_ids: list[int]) -> list[int]:
    """Remove the gold mark from the selected gold items; return their ids."""
    ensure_writable(membership.project)
    gold_ids = list(
        Item.objects.filter(project=membership.project, id__in=item_ids, is_gold=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for item_id in gold_ids:
        item_set_gold(membership=membership, item_id=item_id, gold=None)
    return gold_ids


def _with_tags(items: QuerySet[Item]) -> Iterator[tuple[Item, list[str]]]:
    """Each item in id order with its tags, read a chunk of items at a time."""
    chunk: list[Item] = []
    for item in items.order_by("id").iterator(chunk_size=_EXPORT_CHUNK):
        chunk.append(item)
        if len(chunk) == _EXPORT_CHUNK:
            yield from _tagged(chunk)
            chunk = []
    yield from _tagged(chunk)


def _tagged(chunk: list[Item]) -> Iterator[tuple[Item, list[str]]]:
    tags = item_tags(item.id for item in chunk)
    return ((item, tags.get(item.id, [])) for item in chunk)


def export_jsonl(items: QuerySet[Item]) -> Iterator[str]:
    """The items as JSONL lines in the import format; each line's meta carries the item's id as `source_item`."""
    for item, tags in _with_tags(items):
        row: dict = {"kind": item.kind}
        row |= {"messages": item.messages} if item.messages else {"prompt": item.prompt}
        row |= {name: getattr(item, name) for name in ("task_type", "domain") if getattr(item, name)}
        if item.kind == Kind.REFUSAL:
            row["safety"] = item.safety
            row |= {"harm_category": item.harm_category} if item.harm_category else {}
        if item.kind in PAIRWISE_KINDS:
            row["responses"] = item.responses
        if item.is_gold:
            row["gold"] = item.gold
        if tags:
            row["tags"] = tags
        row["meta"] = {**item.meta, "source_item": item.id}
        yield json.dumps(row, ensure_ascii=False) + "\n"


def export_csv(items: QuerySet[Item]) -> Iterator[str]:
    """The items' main columns as CSV rows (header first); a cell that a spreadsheet would run as a formula is
    quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    for item, tags in _with_tags(items):
        values = {name: getattr(item, name) for name in CSV_COLUMNS if name != "tags"}
        values["prompt"] = item.last_user_turn
        values["tags"] = " ".join(tags)
        values["responses"] = json.dumps([response["text"] for response in item.responses], ensure_ascii=False)
        writer.writerow([_cell(values[name]) for name in CSV_COLUMNS])
        yield _drain(buffer)


def export_download(project: Project, item_ids: list[int], fmt: str) -> StreamingHttpResponse:
    """The selected items as a streamed JSONL (import format) or CSV attachment."""
    items = Item.objects.filter(project=project, id__in=item_ids)
    rows = export_jsonl(items) if fmt == "jsonl" else export_csv(items)
    response = StreamingHttpResponse(rows, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-items.{fmt}"'
    return response


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _cell(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _target(item_ids: list[int]) -> str:
    return f"item {item_ids[0]}" if len(item_ids) == 1 else f"{len(item_ids)} items"


def _ids(item_ids: list[int], **extra) -> dict:
    return {"items": item_ids[:AUDITED_IDS], "count": len(item_ids), **extra}
