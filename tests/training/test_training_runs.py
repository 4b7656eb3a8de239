"""`manage.py train` runs the real pipeline in a child process, records the run and registers the model."""

import pytest
from django.core.management import CommandError, call_command

from tests.training.conftest import tiny_run_yaml
from training.models import ModelVersion, TrainingRun
from training.pipeline.tiny_model import build_tiny_model

# the command follows a task queued on commit
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_media")]


def config_file(tmp_path, base_model, **changes):
    path = tmp_path / "run.yaml"
    path.write_text(tiny_run_yaml(base_model, **changes))
    return path


def test_a_run_trains_sft_then_dpo_and_registers_a_candidate(ready_snapshot, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny = build_tiny_model(tmp_path / "tiny", ["hello there, how are you"] * 20)
    call_command("train", f"demo/{ready_snapshot.version}", "--config", str(config_file(tmp_path, tiny)))
    run = TrainingRun.objects.get()
    assert run.status == "succeeded" and run.exit_code == 0
    assert set(run.metrics["stages"]) == {"sft", "dpo"}
    version = ModelVersion.objects.get()
    assert (version.name, version.status, version.snapshot, version.run) == (
        "demo-m1",
        "candidate",
        ready_snapshot,
        run,
    )
    assert version.model_path == "models/demo/demo-m1" and (version.path / "config.json").exists()
    out = capsys.readouterr().out
    assert "sft: starting from" in out and "model demo-m1 registered" in out


def test_a_failed_run_keeps_its_log_and_registers_nothing(ready_snapshot, tmp_path):
    with pytest.raises(CommandError, match="failed"):
        call_command(
            "train", str(ready_snapshot.id), "--config", str(config_file(tmp_path, tmp_path / "no-such-model"))
        )
    run = TrainingRun.objects.get()
    assert run.status == "failed" and run.exit_code != 0 and "no-such-model" in run.log_tail
    assert ModelVersion.objects.count() == 0


def test_bad_run_configs_are_refused_before_queueing(ready_snapshot, tmp_path):
    with pytest.raises(CommandError, match="unknown key"):
        call_command("train", str(ready_snapshot.id), "--config", str(config_file(tmp_path, "x", sft={"stepz": 1})))
    with pytest.raises(CommandError, match="No snapshot"):
        call_command("train", "demo/99", "--config", str(config_file(tmp_path, "x")))
    assert TrainingRun.objects.count() == 0
