"""Model instances from hand-written SQL, for the few statements of the annotators' hot path.

Next and submit run a handful of statements each, and the ORM took longer to build and compile each one than the
database took to run it. With these, such a statement's SQL says only what the ORM could not cache: its FROM,
WHERE and locks. The column lists, and the conversion of every value as a queryset would convert it (JSON, dates,
booleans on SQLite), come from the models.
"""

from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

_converters: WeakKeyDictionary = WeakKeyDictionary()  # per connection (a thread's own): each Columns' converters


class Columns:
    """A model's columns as `alias`.column in a select list (bare when alias is None, as RETURNING needs), less
    the fields named in `without`, which instances then load on first use like a queryset's deferred fields. Made
    once, at import: each connection keeps its converters per instance."""

    def __init__(self, model: type[Model], alias: str | None, without: tuple[str, ...] = ()):
        self.model = model
        self.fields = [field for field in model._meta.concrete_fields if field.name not in without]
        prefix = f"{alias}." if alias else ""
        self.sql = ", ".join(prefix + field.column for field in self.fields)
        self.attnames = [field.attname for field in self.fields]

    def _converters(self) -> list[tuple[int, list, object]]:
        known = _converters.setdefault(connections[DEFAULT_DB_ALIAS], {})
        if self not in known:
            table = self.model._meta.db_table
            cols = [(i, field, field.get_col(table)) for i, field in enumerate(self.fields)]
            found = [
                (i, connection.ops.get_db_converters(col) + field.get_db_converters(connection), col)
                for i, field, col in cols
            ]
            known[self] = [(i, converters, col) for i, converters, col in found if converters]
        return known[self]

    def instance(self, values) -> Model:
        values = list(values)
        for i, converters, col in self._converters():
            for convert in converters:
                values[i] = convert(values[i], col, connection)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


def for_update(of: str | None = None, *, skip_locked: bool = False) -> str:
    """A statement's row-lock clause on PostgreSQL, on table alias `of` only when given; nothing on SQLite, whose
    transactions take the write lock up front."""
    if not connection.features.has_select_for_update:
        return ""
    return " FOR UPDATE" + (f" OF {of}" if of else "") + (" SKIP LOCKED" if skip_locked else "")


def select(*columns: Columns) -> str:
    return ", ".join(part.sql for part in columns)


def first(sql: str, args: list, *columns: Columns) -> list[Model] | None:
    """The first row of `sql`, whose select list is `select(*columns)`, as one instance of each model in that
    order; None when there is no row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        row = cursor.fetchone()
    if row is None:
        return None
    made, start = [], 0
    for part in columns:
        made.append(part.instance(row[start : start + len(part.fields)]))
        start += len(part.fields)
    return made
