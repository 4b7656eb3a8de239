"""Bulk import of items from JSONL: all-or-nothing, every bad line reported."""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation import text
from annotation.errors import Conflict, InvalidInput
from annotation.item_validation import LineErrors, validate_item
from annotation.models import Item, Project
from annotation.tasks import near_duplicates_index
from annotation.taxonomy import MAX_IMPORT_LINE_BYTES, MAX_IMPORT_LINES

MAX_REPORTED_ERRORS = 1000
# An upload must finish well inside the web server's 30 s worker timeout: 50,000 lines of ~1.3 KB take about 9 s
# of CPU here (200,000 lines take 35 s). Larger files go through `manage.py import_items`, which has no timeout.
HTTP_MAX_IMPORT_LINES = 50_000
HTTP_MAX_IMPORT_BYTES = 64 * 2**20
_BATCH = 5000
_CHUNK_BYTES = 64 * 1024
_BOM = "\ufeff"


@dataclass
class ImportResult:
    created: int
    by_kind: dict[str, int]


def _parse(lines: Iterable[bytes | str], project: Project, max_lines: int) -> tuple[list[tuple[int, dict]], list[dict]]:
    rows: list[tuple[int, dict]] = []
    errors: list[dict] = []
    first_line_of: dict[str, int] = {}
    number = 0
    for number, raw in enumerate(lines, start=1):
        if number > max_lines:
            message = f"more than {max_lines} lines in one import; split the file"
            if max_lines < MAX_IMPORT_LINES:
                message += f" or run `manage.py import_items` (up to {MAX_IMPORT_LINES} lines)"
            errors.append({"line": number, "field": "", "message": message})
            break
        if len(raw) > MAX_IMPORT_LINE_BYTES:
            errors.append({"line": number, "field": "", "message": f"line is over {MAX_IMPORT_LINE_BYTES} bytes"})
            continue
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                errors.append({"line": number, "field": "", "message": f"not UTF-8 (byte {exc.start})"})
                continue
        if number == 1:
            raw = raw.removeprefix(_BOM)
        if not raw.strip():
            continue
        try:
            fields = validate_item(text.loads(raw), project)
        except InvalidInput as exc:
            errors.append({"line": number, "field": exc.field or "", "message": exc.message})
            continue
        except LineErrors as exc:
            errors.extend({"line": number, "field": field, "message": message} for field, message in exc.errors)
            continue
        earlier = first_line_of.setdefault(fields["content_hash"], number)
        if earlier != number:
            errors.append({"line": number, "field": "", "message": f"duplicate of line {earlier}"})
            continue
        rows.append((number, fields))
    return rows, errors


def jsonl_lines(stream, limit: int = MAX_IMPORT_LINE_BYTES) -> Iterator[bytes]:
    """The lines of a binary stream, read in chunks: a line over `limit` is cut to `limit + 1` bytes (so that it is
    reported) and the rest of it skipped, so a huge line is never held in memory whole."""
    pending, skipping = b"", False
    while chunk := stream.read(_CHUNK_BYTES):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        if skipping and complete:
            complete, skipping = complete[1:], False
        yield from complete
        if skipping:
            pending = b""
        elif len(pending) > limit:
            yield pending[: limit + 1]
            pending, skipping = b"", True
    if pending and not skipping:
        yield pending


def _existing_duplicates(project: Project, rows: list[tuple[int, dict]]) -> list[dict]:
    line_of = {fields["content_hash"]: number for number, fields in rows}
    hashes = list(line_of)
    errors = []
    for start in range(0, len(hashes), _BATCH):
        found = Item.objects.filter(project=project, content_hash__in=hashes[start : start + _BATCH])
        for item_id, digest in found.values_list("id", "content_hash"):
            errors.append({"line": line_of[digest], "field": "", "message": f"duplicate of existing item {item_id}"})
    return errors


def item_import(*, project: Project, lines: Iterable[bytes | str], max_lines: int = MAX_IMPORT_LINES) -> ImportResult:
    """Validate every line, then create all items in one transaction; raise InvalidInput listing each bad line."""
    rows, errors = _parse(lines, project, max_lines)
    errors += _existing_duplicates(project, rows)
    if errors:
        errors.sort(key=lambda e: e["line"])
        bad_lines = len({e["line"] for e in errors})
        raise InvalidInput(
            f"{bad_lines} line(s) are invalid; nothing was imported.",
            errors=errors[:MAX_REPORTED_ERRORS],
        )
    if not rows:
        raise InvalidInput("The import holds no items.")
    try:
        with transaction.atomic():
            _insert(project, [fields for _, fields in rows])
    except IntegrityError as exc:
        raise Conflict("Another import added some of these items at the same time; retry to see which.") from exc
    index_later(project)
    return ImportResult(created=len(rows), by_kind=dict(Counter(fields["kind"] for _, fields in rows)))


_COLUMNS = ["kind", "prompt", "messages", "task_type", "domain", "safety", "harm_category", "responses", "gold"]
_COLUMNS += ["is_gold", "meta", "content_hash", "longer_response"]
_JSON_COLUMNS = {"messages", "responses", "gold", "meta"}


def _insert(project: Project, rows: list[dict]) -> None:
    """Insert validated rows without the ORM, whose bulk_create spends most of an import compiling SQL."""
    columns = [*_COLUMNS, "project_id", "open_slots", "completed_count", "created_at"]
    table = connection.ops.quote_name(Item._meta.db_table)
    tail = (project.id, project.overlap, 0, timezone.now())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for fields in rows:
                    copy.write_row((*(_json_text(fields, c) for c in _COLUMNS), *tail))
            return
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        tail = (*tail[:3], connection.ops.adapt_datetimefield_value(tail[3]))
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            cursor.executemany(sql, [(*(_json_text(fields, c) for c in _COLUMNS), *tail) for fields in batch])


def _json_text(fields: dict, column: str):
    value = fields[column]
    if column in _JSON_COLUMNS and value is not None:
        return json.dumps(value, ensure_ascii=False)
    return value


def index_later(project: Project) -> None:
    """Find near-duplicates of the new items in the background (hashing 100k prompts takes seconds)."""
    near_duplicates_index.enqueue(project.id)
