"""Drop the trigram indexes on items' prompt and responses (PostgreSQL): maintaining them cost about 1.5 ms of
database time per imported item (100,000 realistic items: 160 s), thirty times the import's whole budget, and the
near-duplicate indexer paid it again when it signed the items. The data browser's search scans items instead;
the index on annotated responses, written one at a time, stays."""

from importlib import import_module

from django.db import migrations

INDEXES = {
    name: definition
    for name, definition in import_module("annotation.migrations.0006_data_browser_indexes").INDEXES.items()
    if name in ("item_prompt_trgm", "item_responses_trgm")
}


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0010_item_tags")]

    operations = [migrations.RunPython(drop, create, elidable=False)]
