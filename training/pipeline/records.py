"""What a run records so its results can be trusted: what it trained on (snapshot hash), with which code and
libraries, on how many processes; and the check that a resumed run is the same run as the one it continues."""

import importlib.metadata
import threading
from pathlib import Path

from training.pipeline.hashing import content_hash

LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")
PIPELINE = Path(__file__).resolve().parent


class ResumeRefused(RuntimeError):
    pass


def snapshot_hash(snapshot: Path) -> str:
    """One hash over the snapshot's data files (names and bytes): the data this run trains on."""
    return content_hash(list(snapshot.glob("*.jsonl")))


def code_version() -> str:
    """A hash of the pipeline's own code and templates: a resumed stage must be trained by the same code."""
    return content_hash([*PIPELINE.glob("*.py"), *PIPELINE.glob("chat_templates/*.jinja")])[:16]


def library_versions() -> dict:
    return {name: importlib.metadata.version(name) for name in LIBRARIES}


def identity(config: dict, snapshot: Path) -> dict:
    """What must not change between a run and its resumption."""
    return {"config": config, "snapshot_hash": snapshot_hash(snapshot), "code_version": code_version()}


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            found += _differences(before, after, f"{prefix}{key}.")
        elif before != after:
            found.append(f"{prefix}{key}: {before!r} → {after!r}")
    return found


def check_resume(recorded: dict, current: dict) -> None:
    """Refuse to continue a run whose config, snapshot or pipeline code changed since its stages were trained."""
    changed = _differences(recorded, current)
    if changed:
        raise ResumeRefused(
            "This output folder holds a run trained with something else; resuming would mix two runs. Changed: "
            + "; ".join(changed[:8])
            + ". Use a new --out folder, or --force-restart to discard what is there and train from the start."
        )


class PeakMemory:
    """Peak memory of one stage: the GPU's allocator peak (reset at the start), or on CPU the largest resident
    set seen by a sampler thread (the process's lifetime peak cannot be reset)."""

    def __init__(self, interval_s: float = 0.05):
        self.interval_s, self.peak, self._stop = interval_s, 0, threading.Event()

    def __enter__(self):
        import torch

        self.gpu = torch.cuda.is_available()
        if self.gpu:
            torch.cuda.reset_peak_memory_stats()
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        import psutil

        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc):
        if self.gpu:
            import torch

            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()

    @property
    def mb(self) -> float:
        return self.peak / 2**20
