"""Bulk import of items from JSONL: all-or-nothing, every bad line reported; a dry run reports without writing."""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter

import orjson
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation import text
from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from annotation.item_validation import LineErrors, validate_line
from annotation.models import Item, ItemTag, Project
from annotation.projects import ensure_writable
from annotation.tasks import near_duplicates_index
from annotation.taxonomy import MAX_IMPORT_LINE_BYTES, MAX_IMPORT_LINES

MAX_REPORTED_ERRORS = 1000
# An upload must finish well inside the web server's 30 s worker timeout: 50,000 lines of ~1.3 KB take about 9 s
# of CPU here (200,000 lines take 35 s). Larger files go through the background import or `manage.py import_items`.
HTTP_MAX_IMPORT_LINES = 50_000
HTTP_MAX_IMPORT_BYTES = 64 * 2**20
_BATCH = 5000
_PROGRESS_EVERY = 1000
_CHUNK_BYTES = 64 * 1024
_BOM = "\ufeff"

Progress = Callable[[str, float], None]
"""Called with a phase ("validating", "inserting") and the fraction of that phase done."""


@dataclass
class ImportReport:
    """What an import would do: counts of the importable lines, duplicates and bad lines (both capped)."""

    total_lines: int = 0
    valid: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_task_type: dict[str, int] = field(default_factory=dict)
    duplicates: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    duplicate_lines: int = 0
    bad_lines: int = 0

    @property
    def ok(self) -> bool:
        return self.valid > 0 and not self.duplicates and not self.errors

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "total_lines": self.total_lines,
            "valid": self.valid,
            "by_kind": self.by_kind,
            "by_task_type": self.by_task_type,
            "duplicate_lines": self.duplicate_lines,
            "duplicates": self.duplicates,
            "bad_lines": self.bad_lines,
            "errors": self.errors,
        }

    def refusal(self) -> InvalidInput:
        """The report as the error an import raises: every bad and duplicate line, by line number."""
        if self.valid == 0 and not self.bad_lines and not self.duplicate_lines:
            return InvalidInput("The import holds no items.")
        duplicates = [{"line": d["line"], "field": "", "message": _duplicate_text(d)} for d in self.duplicates]
        problems = self.errors + duplicates
        problems.sort(key=lambda e: e["line"])
        return InvalidInput(
            f"{self.bad_lines + self.duplicate_lines} line(s) are invalid; nothing was imported.",
            errors=problems[:MAX_REPORTED_ERRORS],
        )


def _duplicate_text(duplicate: dict) -> str:
    if "existing_item" in duplicate:
        return f"duplicate of existing item {duplicate['existing_item']}"
    return f"duplicate of line {duplicate['of_line']}"


@dataclass
class ImportResult:
    created: int
    by_kind: dict[str, int]
    items: list[dict] = field(default_factory=list)
    """One {"line", "id", "meta"} per created item, in file order."""


@dataclass
class _Checked:
    rows: list[tuple[int, dict]]
    report: ImportReport


def _parse(
    lines: Iterable[bytes | str], project: Project, max_lines: int, progress: Progress | None, total_lines: int | None
) -> _Checked:
    rows: list[tuple[int, dict]] = []
    report = ImportReport()
    bad: set[int] = set()
    first_line_of: dict[str, int] = {}

    def refuse(number: int, field_name: str, message: str) -> None:
        bad.add(number)
        if len(report.errors) < MAX_REPORTED_ERRORS:
            report.errors.append({"line": number, "field": field_name, "message": message})

    number = 0
    for number, raw in enumerate(lines, start=1):
        if progress and total_lines and number % _PROGRESS_EVERY == 0:
            progress("validating", min(number / total_lines, 1.0))
        if number > max_lines:
            message = f"more than {max_lines} lines in one import; split the file"
            if max_lines < MAX_IMPORT_LINES:
                message += " or use the background import (the Import page, or POST /api/v1/projects/{slug}/imports/)"
                message += f" or `manage.py import_items` (up to {MAX_IMPORT_LINES} lines)"
            bad.add(number)
            report.errors.append({"line": number, "field": "", "message": message})
            break
        if len(raw) > MAX_IMPORT_LINE_BYTES:
            refuse(number, "", f"line is over {MAX_IMPORT_LINE_BYTES} bytes")
            continue
        document = raw
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                refuse(number, "", f"not UTF-8 (byte {exc.start})")
                continue
        if number == 1 and raw.startswith(_BOM):
            raw = document = raw[1:]
        if not raw.strip():
            continue
        try:
            # The undecoded line when it came as bytes: orjson reads UTF-8 without copying it back into bytes.
            fields = validate_line(text.loads(document), project)
        except InvalidInput as exc:
            refuse(number, exc.field or "", exc.message)
            continue
        except LineErrors as exc:
            for field_name, message in exc.errors:
                refuse(number, field_name, message)
            continue
        earlier = first_line_of.setdefault(fields["content_hash"], number)
        if earlier != number:
            report.duplicate_lines += 1
            if len(report.duplicates) < MAX_REPORTED_ERRORS:
                report.duplicates.append({"line": number, "of_line": earlier})
            continue
        rows.append((number, fields))
    report.total_lines, report.bad_lines = number, len(bad)
    _tally(report, rows)
    return _Checked(rows=rows, report=report)


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


def _ids_by_hash(project: Project, hashes: list[str]) -> dict:
    """The project's items among `hashes`, as {content_hash: id}: one query per batch, the hashes sent as a single
    string parameter (the driver adapts a list of 5,000 strings one by one, in Python) rather than compiled into the
    SQL one by one."""
    table = connection.ops.quote_name(Item._meta.db_table)
    postgres = connection.vendor == "postgresql"
    among = "= ANY(string_to_array(%s, ','))" if postgres else "IN (SELECT value FROM json_each(%s))"
    sql = f"SELECT content_hash, id FROM {table} WHERE project_id = %s AND content_hash {among}"
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(hashes), _BATCH):
            batch = hashes[start : start + _BATCH]
            cursor.execute(sql, [project.id, ",".join(batch) if postgres else orjson.dumps(batch).decode()])
            found.update(cursor.fetchall())
    return found


def _without_existing(project: Project, checked: _Checked) -> _Checked:
    """`checked` less the lines whose items the project already has, each reported as a duplicate of its item."""
    report, existing = checked.report, _ids_by_hash(project, [fields["content_hash"] for _, fields in checked.rows])
    fresh = []
    for number, fields in checked.rows:
        if fields["content_hash"] in existing:
            report.duplicate_lines += 1
            if len(report.duplicates) < MAX_REPORTED_ERRORS:
                report.duplicates.append({"line": number, "existing_item": existing[fields["content_hash"]]})
        else:
            fresh.append((number, fields))
    report.duplicates.sort(key=lambda d: d["line"])
    _tally(report, fresh)
    return _Checked(rows=fresh, report=report)


def _tally(report: ImportReport, rows: list[tuple[int, dict]]) -> None:
    report.valid = len(rows)
    report.by_kind = dict(Counter(fields["kind"] for _, fields in rows))
    report.by_task_type = dict(Counter(fields["task_type"] or "" for _, fields in rows))


def item_import_dry_run(
    *,
    project: Project,
    lines: Iterable[bytes | str],
    max_lines: int = MAX_IMPORT_LINES,
    progress: Progress | None = None,
    total_lines: int | None = None,
) -> ImportReport:
    """Check every line as an import would, write nothing, and report counts, duplicates and bad lines."""
    ensure_writable(project)
    return _without_existing(project, _parse(lines, project, max_lines, progress, total_lines)).report


def item_import(
    *,
    project: Project,
    lines: Iterable[bytes | str],
    max_lines: int = MAX_IMPORT_LINES,
    by=None,
    source: str = "",
    progress: Progress | None = None,
    total_lines: int | None = None,
) -> ImportResult:
    """Validate every line, then create all items in one transaction (audited); raise InvalidInput listing each
    bad line. The result lists each created item's line, id and meta.

    The project's unique content hash finds duplicates of existing items: a clean file is inserted without looking
    them up first, and only an insert that collides (or a file with other mistakes) pays for naming them."""
    ensure_writable(project)
    checked = _parse(lines, project, max_lines, progress, total_lines)
    if not checked.report.ok:
        raise _without_existing(project, checked).report.refusal()
    report, rows = checked.report, checked.rows
    if progress:
        progress("inserting", 0.0)
    values = [_row(fields) for _, fields in rows]
    try:
        with transaction.atomic():
            ids = _insert(project, values)
            _insert_tags(
                [(item_id, name) for item_id, (_, fields) in zip(ids, rows, strict=True) for name in fields["tags"]]
            )
            audit_record(
                actor=by,
                project=project,
                action=Action.ITEMS_IMPORT,
                target=source,
                after={"created": report.valid, "by_kind": report.by_kind},
            )
    except IntegrityError as exc:
        collided = _without_existing(project, checked).report
        if collided.duplicates:
            raise collided.refusal() from exc
        raise Conflict("Another import added some of these items at the same time; retry to see which.") from exc
    items = [
        {"line": number, "id": item_id, "meta": fields["meta"]}
        for item_id, (number, fields) in zip(ids, rows, strict=True)
    ]
    index_later(project)
    return ImportResult(created=report.valid, by_kind=report.by_kind, items=items)


_COLUMNS = ["kind", "prompt", "messages", "task_type", "domain", "safety", "harm_category", "responses", "gold"]
_COLUMNS += ["is_gold", "meta", "content_hash", "longer_response"]
_JSON_AT = [_COLUMNS.index(name) for name in ("messages", "responses", "gold", "meta")]
_values = itemgetter(*_COLUMNS)


def _insert(project: Project, rows: list[list]) -> list[int]:
    """Insert validated rows (as _row gives them, made before the write lock) without the ORM, whose bulk_create
    spends most of an import compiling SQL, and return their ids in order: on PostgreSQL the ids come from the
    sequence first and the rows go in by COPY; on SQLite one executemany under the write lock gives them consecutive
    ids ending at the last one inserted."""
    columns = [
        *_COLUMNS,
        "project_id",
        "open_slots",
        "completed_count",
        "extra_overlap",
        "excluded_reason",
        "created_at",
    ]
    tail = (project.id, project.overlap, 0, 0, "", timezone.now())
    table = Item._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(rows)]
            )
            ids = sorted(item_id for (item_id,) in cursor.fetchall())
            _write(table, ["id", *columns], [(item_id, *row, *tail) for item_id, row in zip(ids, rows, strict=True)])
            return ids
        tail = (*tail[:-1], connection.ops.adapt_datetimefield_value(tail[-1]))
        _write(table, columns, [(*row, *tail) for row in rows])
        cursor.execute("SELECT last_insert_rowid()")
        last = cursor.fetchone()[0]
    return list(range(last - len(rows) + 1, last + 1))


def _row(fields: dict) -> list:
    values = list(_values(fields))
    for at in _JSON_AT:
        if values[at] is not None:
            values[at] = orjson.dumps(values[at]).decode()
    return values


def _insert_tags(tags: list[tuple[int, str]]) -> None:
    """The (item id, name) tags of the items just inserted."""
    if tags:
        _write(ItemTag._meta.db_table, ["item_id", "name"], tags)


def _write(table: str, columns: list[str], rows: list[tuple]) -> None:
    table, names = connection.ops.quote_name(table), ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The driver's own cursor: Django's wrapper would not turn its errors into django.db's (IntegrityError).
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def index_later(project: Project) -> None:
    """Find near-duplicates of the new items in the background (hashing 100k prompts takes seconds)."""
    near_duplicates_index.enqueue(project.id)
