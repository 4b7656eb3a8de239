"""Run the configured stages in order, resuming a crashed run, and write the run's artifacts."""

import json
import logging
import time
from pathlib import Path

import yaml

from training.pipeline.config import RunConfig
from training.pipeline.devices import resolve
from training.pipeline.stages import run_domain_sft, run_dpo, run_sft

RUNNERS = {"sft": run_sft, "domain_sft": run_domain_sft, "dpo": run_dpo}
log = logging.getLogger("quorum.pipeline")


def run(config: RunConfig, snapshot: Path, out: Path) -> dict:
    """Train every stage; each starts from the previous stage's model. Returns the run's metrics."""
    import transformers

    transformers.set_seed(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    choices = resolve(config)
    (out / "resolved_config.yaml").write_text(yaml.safe_dump({**config.as_dict(), "resolved": choices}, sort_keys=True))
    log.info("device %s, precision %s, packing %s", choices["device"], choices["precision"], choices["packing"])
    started = time.perf_counter()
    metrics: dict = {"stages": {}, "resolved": choices}
    model = config.base_model
    for position, stage in enumerate(config.stages):
        folder = out / stage
        done = folder / "metrics.json"
        last = position == len(config.stages) - 1
        settings = getattr(config, stage)
        start = settings.base_model or model
        if done.exists():  # finished before a crash: reuse it
            result = json.loads(done.read_text())
            metrics["stages"][stage], model = result["metrics"], result["model_dir"]
            log.info("%s: already done, resuming after it", stage)
            continue
        log.info("%s: starting from %s", stage, start)
        result = RUNNERS[stage](config, choices, snapshot, start, folder, merge=not last or config.merge)
        done.write_text(json.dumps({"metrics": result.metrics, "model_dir": str(result.model_dir)}, indent=2))
        metrics["stages"][stage], model = result.metrics, str(result.model_dir)
        log.info("%s: done %s", stage, json.dumps(result.metrics))
    metrics["wall_s"] = time.perf_counter() - started
    metrics["final_model"] = model
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return metrics
