"""Retraining from a registered model: each run's model is stored outside the run's scratch folder, loads on its
own, and starts the next run (`train --parent`), whether it is merged weights or an adapter over its base."""

import json
import shutil

import pytest
from django.core.management import call_command

from tests.training.conftest import tiny_run_yaml
from training.models import ModelVersion
from training.pipeline.tiny_model import build_tiny_model

# the command follows a task queued on commit
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_media")]


def config_file(tmp_path, base_model, name, **changes):
    path = tmp_path / f"{name}.yaml"
    path.write_text(tiny_run_yaml(base_model, **changes))
    return str(path)


def test_two_cycles_in_a_row_the_second_from_the_first_models_version(
    ready_snapshot, tmp_path, monkeypatch, client, users
):
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny = build_tiny_model(tmp_path / "tiny", ["hello there, how are you"] * 20)
    snapshot = f"demo/{ready_snapshot.version}"
    call_command("train", snapshot, "--config", config_file(tmp_path, tiny, "first"))
    first = ModelVersion.objects.get()
    assert first.model_path == "models/demo/demo-m1" and not first.path.is_relative_to(first.run.output_dir)
    shutil.rmtree(first.run.output_dir)  # the run's scratch folder can go: the model does not live there
    AutoModelForCausalLM.from_pretrained(first.path)
    client.force_login(users["admin"])
    page = client.get(f"/p/demo/runs/{first.run.id}/").content.decode()
    assert "Registered as <strong>demo-m1</strong>" in page and "<td>sft</td>" in page and "<td>dpo</td>" in page

    call_command("train", snapshot, "--config", config_file(tmp_path, "unused", "second"), "--parent", "demo-m1")
    second = ModelVersion.objects.get(name="demo-m2")
    assert second.parent == first and second.run.parent_model == first
    assert f"sft: starting from {first.path}" in second.run.log_tail
    assert json.loads((second.path / "config.json").read_text())["model_type"] == "llama"


def test_an_adapter_model_is_stored_with_the_name_of_its_base(ready_snapshot, tmp_path, monkeypatch):
    from peft import AutoPeftModelForCausalLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny = build_tiny_model(tmp_path / "tiny", ["hello there, how are you"] * 20)
    snapshot = f"demo/{ready_snapshot.version}"
    call_command("train", snapshot, "--config", config_file(tmp_path, tiny, "adapter", stages=["sft"]))
    adapter = ModelVersion.objects.get()
    assert (adapter.path / "adapter_config.json").exists() and adapter.run.metrics["final_model_base"] == str(tiny)
    AutoPeftModelForCausalLM.from_pretrained(adapter.path)  # its base is found through adapter_config.json
