"""Indexes for the data browser on PostgreSQL: trigram indexes for its any-case search (Django's icontains is
`UPPER(col::text) LIKE UPPER(...)`, so each index is on that expression) and four for its sorts. SQLite skips them."""

from django.db import migrations

INDEXES = {
    "item_prompt_trgm": "annotation_item USING gin ((UPPER(prompt::text)) gin_trgm_ops)",
    "item_responses_trgm": "annotation_item USING gin ((UPPER(responses::text)) gin_trgm_ops)",
    "annotation_response_trgm": (
        "annotation_annotation USING gin ((UPPER((payload ->> 'response')::text)) gin_trgm_ops)"
    ),
    "item_by_created": "annotation_item (project_id, created_at, id)",
    "item_by_completed": "annotation_item (project_id, completed_count, id)",
    "item_by_task_type": "annotation_item (project_id, task_type, id)",
    "item_by_kind": "annotation_item (project_id, kind, id)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_admin_side")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
