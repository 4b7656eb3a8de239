"""The command that runs the pipeline: plain Python for one process, `accelerate launch` for several or for a
shipped (or given) Accelerate config. The run executor and the multi-process tests use this one function."""

import socket
import sys
from pathlib import Path

from training.pipeline.config import RunConfig

ACCELERATE_CONFIGS = Path(__file__).resolve().parent.parent / "accelerate"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerate_config_path(name: str) -> Path:
    """A shipped config by name (ddp, fsdp, zero3) or a file path."""
    shipped = ACCELERATE_CONFIGS / f"{name}.yaml"
    return shipped if shipped.exists() else Path(name)


def pipeline_command(config: RunConfig, *, config_path: Path, snapshot: Path, out: Path, base_model: str = ""):
    """The argv that trains `config` on `snapshot` into `out` (`base_model` overrides the config's)."""
    script = ["-m", "training.pipeline", "--config", str(config_path), "--snapshot", str(snapshot), "--out", str(out)]
    if base_model:
        script += ["--base-model", base_model]
    launch = config.launch
    if (launch.processes or 1) == 1 and not launch.accelerate_config:
        return [sys.executable, *script]
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if launch.processes:
        command += ["--num_processes", str(launch.processes)]
    if launch.accelerate_config:
        command += ["--config_file", str(accelerate_config_path(launch.accelerate_config))]
    else:  # torchrun-style workers; on CPU (use_cpu) they join over gloo
        command += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return [*command, "--main_process_port", str(free_port()), *script]
