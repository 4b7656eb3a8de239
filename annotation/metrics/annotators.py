"""Per-annotator quality for pairwise work, with outliers flagged against fixed, documented thresholds."""

from dataclasses import asdict, dataclass, field

import numpy as np

from annotation.metrics.agreement import Judgments, leave_one_out_majority

# An annotator is flagged only with enough evidence (the `min_n`); README "Quality thresholds" documents these.
THRESHOLDS = {
    "loo_agreement": {"below": 0.5, "min_n": 20, "why": "disagrees with the other annotators' majority"},
    "gold_accuracy": {"below": 0.7, "min_n": 5, "why": "misses gold answers"},
    "left_share": {"outside": (0.35, 0.65), "min_n": 30, "why": "favours one side of the screen"},
    "tie_rate": {"above": 0.35, "min_n": 20, "why": "calls too many ties"},
    "longer_share": {"above": 0.8, "min_n": 30, "why": "prefers the longer response almost always"},
    "median_seconds": {"below": 3.0, "min_n": 20, "why": "answers faster than one can read"},
    "self_consistency": {"below": 0.7, "min_n": 5, "why": "changes their mind when the sides are swapped"},
}


@dataclass
class AnnotatorQuality:
    annotator: int
    judgments: int
    loo_agreement: float | None = None
    loo_n: int = 0
    gold_accuracy: float | None = None
    gold_n: int = 0
    left_share: float | None = None
    left_n: int = 0
    tie_rate: float | None = None
    longer_share: float | None = None
    longer_n: int = 0
    median_seconds: float | None = None
    time_n: int = 0
    self_consistency: float | None = None
    repeat_n: int = 0
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _share(mask: np.ndarray, hits: np.ndarray) -> tuple[float | None, int]:
    n = int(mask.sum())
    return (float(hits[mask].mean()) if n else None), n


def _flags(quality: AnnotatorQuality) -> list[str]:
    flags = []
    counts = {
        "loo_agreement": quality.loo_n,
        "gold_accuracy": quality.gold_n,
        "left_share": quality.left_n,
        "tie_rate": quality.judgments,
        "longer_share": quality.longer_n,
        "median_seconds": quality.time_n,
        "self_consistency": quality.repeat_n,
    }
    for name, rule in THRESHOLDS.items():
        value = getattr(quality, name)
        if value is None or counts[name] < rule["min_n"]:
            continue
        low, high = rule.get("outside", (rule.get("below", -np.inf), rule.get("above", np.inf)))
        if value < low or value > high:
            flags.append(f"{name}: {rule['why']}")
    return flags


def annotator_quality(
    judgments: Judgments, gold: dict[int, int], repeats: dict[int, list[bool]] | None = None
) -> list[AnnotatorQuality]:
    """Quality per annotator; `gold` maps item id to its expected nominal label (0, 1 or 2 for a tie), `repeats`
    maps an annotator to whether each repeated judgment matched their first one."""
    repeats = repeats or {}
    label = judgments.nominal
    loo = leave_one_out_majority(judgments)
    chosen = np.where(label == 2, -1, label)
    decided = label != 2
    gold_label = np.array([gold.get(item, -1) for item in judgments.item.tolist()], dtype=np.int64)
    results = []
    for person in np.unique(judgments.annotator):
        mine = judgments.annotator == person
        quality = AnnotatorQuality(annotator=int(person), judgments=int(mine.sum()))
        quality.loo_agreement, quality.loo_n = _share(mine & (loo >= 0), loo == 1)
        quality.gold_accuracy, quality.gold_n = _share(mine & (gold_label >= 0), gold_label == label)
        quality.left_share, quality.left_n = _share(
            mine & decided & (judgments.shown_first >= 0), chosen == judgments.shown_first
        )
        quality.tie_rate = float((label[mine] == 2).mean())
        quality.longer_share, quality.longer_n = _share(
            mine & decided & (judgments.longer >= 0), chosen == judgments.longer
        )
        times = judgments.time_ms[mine & (judgments.time_ms >= 0)]
        quality.time_n = len(times)
        quality.median_seconds = float(np.median(times) / 1000) if len(times) else None
        matched = repeats.get(int(person), [])
        quality.repeat_n = len(matched)
        quality.self_consistency = sum(matched) / len(matched) if matched else None
        quality.flags = _flags(quality)
        results.append(quality)
    return results
