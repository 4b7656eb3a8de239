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


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_demo_tags_items_and_some_of_each_tag_land_in_eval(settings, tmp_path):
    """A demo cycle shows per-tag and per-task-type evaluation only if enough items are held out under the demo's
    snapshot config: five or more of a tag or task type get a figure of their own. The split orders clusters by a
    hash of their first item's id, so this holds for the demo as `load_demo` makes it, in a fresh database."""
    from annotation.demo import demo_load
    from annotation.neardup import index_project
    from annotation.tags import item_tags, project_tags
    from training import selectors
    from training.demo import demo_loop_settings
    from training.reference_metrics import METRICS, MIN_ITEMS
    from training.snapshots.config import snapshot_config
    from training.snapshots.split import eval_items

    settings.MEDIA_ROOT = tmp_path
    demo_load()
    project = Project.objects.get(slug="demo")
    assert {name for name, _ in project_tags(project)} == {
        "edge_case",
        "rare",
        "scenario:exam_stress",
        "scenario:crisis",
    }
    config = snapshot_config(demo_loop_settings(project, None).snapshot_config)
    index_project(project)
    strata = selectors.item_strata(project, exclude_gold=config.exclude_gold)
    held_out = eval_items(strata, fraction=config.eval_fraction, seed=config.seed).eval
    in_eval = Counter(tag for names in item_tags(held_out).values() for tag in names)
    assert in_eval["edge_case"] >= 5 and in_eval["rare"] >= 5 and in_eval["scenario:exam_stress"] >= 1
    by_type = Counter(Item.objects.filter(id__in=held_out).values_list("task_type", flat=True))
    assert {task_type: by_type[task_type] for task_type in METRICS} == {
        task_type: max(by_type[task_type], MIN_ITEMS) for task_type in METRICS
    }, by_type  # every task type with a reference metric gets a figure in a demo cycle


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
