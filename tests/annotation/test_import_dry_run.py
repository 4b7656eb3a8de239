"""The dry run: what an import would do (counts, duplicates, bad lines) with nothing written; and the ids and meta
that a real import returns, through the services, the sync API and the command."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.errors import Conflict
from annotation.item_import import MAX_REPORTED_ERRORS, item_import, item_import_dry_run
from annotation.models import AuditEvent, Item
from annotation.project_settings import project_archive
from tests.annotation.test_api import client_for, import_rows

pytestmark = pytest.mark.django_db

ROWS = [
    {"kind": "demonstration", "prompt": "Summarise this.", "task_type": "summarization", "meta": {"ref": "a"}},
    {"kind": "demonstration", "prompt": "Write a poem.", "task_type": "creative_writing", "meta": {"ref": "b"}},
    {"kind": "demonstration", "prompt": "Summarise that.", "task_type": "summarization"},
    {"kind": "refusal", "prompt": "How do locks work?", "safety": "should_comply"},
    {"kind": "preference", "prompt": "Name a fruit", "responses": [{"text": "Apple"}, {"text": "Pear"}]},
]


def lines(rows):
    return [json.dumps(row) for row in rows]


def test_a_clean_file_is_counted_per_kind_and_task_type_and_nothing_is_written(project):
    report = item_import_dry_run(project=project, lines=[*lines(ROWS), ""])
    assert report.ok and report.total_lines == 6 and report.valid == 5
    assert report.by_kind == {"demonstration": 3, "refusal": 1, "preference": 1}
    assert report.by_task_type == {"summarization": 2, "creative_writing": 1, "": 2}
    assert report.duplicates == [] and report.errors == [] and report.bad_lines == 0
    assert not Item.objects.exists() and not AuditEvent.objects.filter(action="items.import").exists()


def test_duplicates_in_the_file_and_of_existing_items_name_their_lines_and_item(project):
    item_import(project=project, lines=lines(ROWS[:1]))
    existing = Item.objects.get()
    spaced = {**ROWS[0], "prompt": "  Summarise   this. "}
    report = item_import_dry_run(project=project, lines=lines([ROWS[1], ROWS[2], ROWS[1], spaced]))
    assert report.duplicates == [{"line": 3, "of_line": 1}, {"line": 4, "existing_item": existing.id}]
    assert report.duplicate_lines == 2 and not report.ok
    assert report.valid == 2 and report.by_kind == {"demonstration": 2}
    assert Item.objects.count() == 1


def test_every_bad_line_is_reported_with_its_number_field_and_reason(project):
    raw = [*lines(ROWS[:2]), "{not json", json.dumps({"kind": "essay", "prompt": "x"}), *lines(ROWS[2:3])]
    raw.append(json.dumps({"kind": "demonstration", "prompt": "x", "task_type": "poetry"}))
    report = item_import_dry_run(project=project, lines=raw)
    assert [(e["line"], e["field"]) for e in report.errors] == [(3, ""), (4, "kind"), (6, "task_type")]
    assert "invalid JSON" in report.errors[0]["message"] and "unknown kind" in report.errors[1]["message"]
    assert report.bad_lines == 3 and report.valid == 3 and report.total_lines == 6 and not report.ok
    assert not Item.objects.exists()


def test_bad_lines_are_capped_but_counted(project):
    report = item_import_dry_run(project=project, lines=["{"] * (MAX_REPORTED_ERRORS + 5))
    assert len(report.errors) == MAX_REPORTED_ERRORS and report.bad_lines == MAX_REPORTED_ERRORS + 5


def test_the_real_import_returns_each_items_line_id_and_meta_and_is_audited(project, users):
    result = item_import(project=project, lines=["", *lines(ROWS[:2])], by=users["admin"], source="test")
    stored = {item.prompt: item.id for item in Item.objects.all()}
    assert result.items == [
        {"line": 2, "id": stored["Summarise this."], "meta": {"ref": "a"}},
        {"line": 3, "id": stored["Write a poem."], "meta": {"ref": "b"}},
    ]
    event = AuditEvent.objects.get(action="items.import")
    assert event.actor == users["admin"] and event.after == {"created": 2, "by_kind": {"demonstration": 2}}


def test_an_archived_project_refuses_imports_and_dry_runs(project, users):
    project_archive(project=project, by=users["admin"])
    with pytest.raises(Conflict, match="archived"):
        item_import_dry_run(project=project, lines=lines(ROWS))
    with pytest.raises(Conflict, match="archived"):
        item_import(project=project, lines=lines(ROWS))


def test_the_sync_api_dry_run_writes_nothing_and_the_import_echoes_meta(project, users):
    admin = client_for(users["admin"])
    bad = [*ROWS[:2], {"kind": "essay"}]
    dry = admin.generic(
        "POST", "/api/v1/projects/demo/items/import/?dry_run=true", "\n".join(lines(bad)), "application/x-ndjson"
    )
    assert dry.status_code == 200, dry.content
    body = dry.json()
    assert body["ok"] is False and body["valid"] == 2 and body["bad_lines"] == 1 and body["errors"][0]["line"] == 3
    assert not Item.objects.exists()
    created = import_rows(admin, ROWS[:2])
    assert created.status_code == 201
    stored = Item.objects.get(prompt="Write a poem.")
    assert created.json()["items"][1] == {"line": 2, "id": stored.id, "meta": {"ref": "b"}}
    junk = admin.generic("POST", "/api/v1/projects/demo/items/import/?dry_run=maybe", "", "application/x-ndjson")
    assert junk.status_code == 400 and junk.json()["field"] == "dry_run"


def test_the_command_has_a_dry_run(project, tmp_path, capsys):
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(lines(ROWS)) + "\n")
    call_command("import_items", "demo", str(path), "--dry-run")
    assert "5 would be imported" in capsys.readouterr().out and not Item.objects.exists()
    path.write_text("\n".join(lines([*ROWS, ROWS[0]])) + "\n")
    with pytest.raises(CommandError, match="1 duplicate"):
        call_command("import_items", "demo", str(path), "--dry-run")
    assert f"{path}:6: duplicate of line 1" in capsys.readouterr().err
