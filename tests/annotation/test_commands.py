import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Item, Membership, Project
from annotation.taxonomy import DEFAULT_TASK_TYPES, HARM_CATEGORIES
from training.models import Schedule
from training.pipeline.config import config_from_text

pytestmark = pytest.mark.django_db


def test_load_demo_fills_an_empty_database_once(tmp_path, settings, capsys, monkeypatch):
    from training.management.commands import load_demo

    monkeypatch.setattr(load_demo, "CREDENTIALS", tmp_path / "creds")
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("load_demo")
    printed = capsys.readouterr().out
    logins = dict(line.split() for line in printed.splitlines() if len(line.split()) == 2)
    assert set(logins) >= {"admin", "reviewer", "annotator1", "annotator2"}
    items = Item.objects.all()
    assert 190 <= items.count() <= 220
    assert {i.task_type for i in items if i.kind == "demonstration"} == set(DEFAULT_TASK_TYPES)
    refusals = Counter((i.safety, i.harm_category) for i in items if i.kind == "refusal")
    assert {category for _, category in refusals} == set(HARM_CATEGORIES)
    assert {safety for safety, _ in refusals} == {"should_refuse", "should_comply"}
    assert items.filter(kind="preference").count() >= 20 and items.filter(is_gold=True).exists()
    assert Membership.objects.count() == 4
    loop = Schedule.objects.get(project__slug="demo")
    base_model = config_from_text(loop.run_config_yaml).base_model
    assert not loop.enabled and (tmp_path / "media" / "base-models" / "demo" / "config.json").exists()
    assert base_model == str(tmp_path / "media" / "base-models" / "demo")

    call_command("load_demo")
    assert Project.objects.count() == 1 and Item.objects.count() == items.count()


def test_import_items_command_imports_a_file(project, tmp_path, capsys):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"kind": "demonstration", "prompt": "Hello"}) + "\n")
    call_command("import_items", "demo", str(path))
    assert "Imported 1 items into demo" in capsys.readouterr().out


def test_import_items_command_reports_file_and_line(project, tmp_path, capsys):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"kind": "demonstration", "prompt": "Hello"}) + "\n{broken\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_items", "demo", str(path))
    assert f"{path}:2: invalid JSON" in capsys.readouterr().err
    assert Item.objects.count() == 0
    with pytest.raises(CommandError, match="No project"):
        call_command("import_items", "nope", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_items", "demo", str(tmp_path / "missing.jsonl"))
