"""Run the configured stages in order, resuming a crashed run (only the same run), and write the run's artifacts.
Under `accelerate launch` every process runs this; the main process writes, the others wait at barriers."""

import gc
import json
import logging
import shutil
import time
from pathlib import Path

import yaml

from training.pipeline.config import RunConfig
from training.pipeline.devices import resolve
from training.pipeline.records import check_resume, identity, library_versions
from training.pipeline.stages import Stage, run_domain_sft, run_dpo, run_sft
from training.pipeline.weights import adapter_base, is_adapter

RUNNERS = {"sft": run_sft, "domain_sft": run_domain_sft, "dpo": run_dpo}
RESOLVED = "resolved_config.yaml"
log = logging.getLogger("quorum.pipeline")


def _identity(config: RunConfig, snapshot: Path) -> dict:
    settings = config.as_dict()
    settings.pop("launch")  # how many processes train is not what is trained
    return identity(settings, snapshot)


def _prepare(config: RunConfig, snapshot: Path, out: Path, processes, force_restart: bool) -> dict:
    """Check that `out` is empty or holds this same run, then record the run; returns the machine choices."""
    choices = resolve(config, processes.num_processes)
    current = _identity(config, snapshot)
    if force_restart and processes.is_main_process and out.exists():
        shutil.rmtree(out)
    processes.wait_for_everyone()
    recorded = out / RESOLVED
    if recorded.exists():  # every process checks, so every process stops when it does not match
        check_resume(
            {key: value for key, value in yaml.safe_load(recorded.read_text()).items() if key in current}, current
        )
    processes.wait_for_everyone()
    if processes.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        resolved = {**current, "resolved": choices, "libraries": library_versions()}
        recorded.write_text(yaml.safe_dump(resolved, sort_keys=True))
    processes.wait_for_everyone()
    return choices


def _free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run(config: RunConfig, snapshot: Path, out: Path, *, force_restart: bool = False) -> dict:
    """Train every stage; each starts from the previous stage's model. Returns the run's metrics."""
    import torch
    import transformers
    from accelerate import PartialState

    processes = PartialState(cpu=config.use_cpu or not torch.cuda.is_available())
    if not processes.is_main_process:
        log.setLevel(logging.WARNING)
    transformers.set_seed(config.seed)
    choices = _prepare(config, snapshot, out, processes, force_restart)
    log.info(
        "device %s × %d, precision %s, packing %s",
        choices["device"],
        choices["world_size"],
        choices["precision"],
        choices["packing"],
    )
    started = time.perf_counter()
    metrics: dict = {"stages": {}}
    model = config.base_model
    for position, name in enumerate(config.stages):
        folder = out / name
        done = folder / "metrics.json"
        settings = getattr(config, name)
        start = settings.base_model or model
        if done.exists():  # finished before a crash: reuse it
            result = json.loads(done.read_text())
            metrics["stages"][name], model = result["metrics"], result["model_dir"]
            log.info("%s: already done, resuming after it", name)
            continue
        external = position == 0 or settings.base_model is not None
        keep_adapter = position == len(config.stages) - 1 and not config.merge and external and not is_adapter(start)
        log.info("%s: starting from %s", name, start)
        result = RUNNERS[name](Stage(config, choices, snapshot, start, folder, keep_adapter=keep_adapter))
        if processes.is_main_process:
            done.write_text(json.dumps({"metrics": result.metrics, "model_dir": str(result.model_dir)}, indent=2))
        processes.wait_for_everyone()
        metrics["stages"][name], model = result.metrics, str(result.model_dir)
        log.info("%s: done %s", name, json.dumps(result.metrics))
        del result
        _free_memory()
    recorded = yaml.safe_load((out / RESOLVED).read_text())
    metrics |= {
        "wall_s": time.perf_counter() - started,
        "final_model": model,
        "final_model_base": adapter_base(model) if is_adapter(model) else None,
        "resolved": choices,
        "world_size": choices["world_size"],
        "snapshot_hash": recorded["snapshot_hash"],
        "code_version": recorded["code_version"],
        "libraries": recorded["libraries"],
    }
    if processes.is_main_process:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    processes.wait_for_everyone()
    return metrics
