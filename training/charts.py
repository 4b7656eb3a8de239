"""Small inline SVG charts drawn by templates from the geometry computed here: loss curves of a training run and a
candidate's win rate over cycles. Pure functions on plain data (apart from reading the run's log), no chart
library."""

import json
import math
from collections.abc import Iterable
from pathlib import Path

from training.models import TrainingRun

WIDTH, HEIGHT = 600, 200
LEFT, RIGHT, TOP, BOTTOM = 50, 10, 10, 25
MAX_POINTS = 400
TRAIN_LOG = "train_log.jsonl"
LOSS_SERIES = {"loss": "train", "eval_loss": "held-out"}


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most MAX_POINTS points, evenly picked, the last one kept: a long run's curve stays cheap to draw."""
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[int(i * step)] for i in range(MAX_POINTS - 1)] + [points[-1]]


def _scale(low: float, high: float, out_low: float, out_high: float):
    span = (high - low) or 1.0
    return lambda value: round(out_low + (value - low) / span * (out_high - out_low), 1)


def run_train_log(run: TrainingRun) -> list[dict]:
    """The rows the pipeline logged while training (one JSON object a line: stage, step and the trainer's logs);
    none before the run started or when its folder is gone."""
    if not run.output_dir:
        return []
    path = Path(run.output_dir) / TRAIN_LOG
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line being written as the run goes
        if isinstance(row, dict):
            rows.append(row)
    return rows


def loss_charts(log_rows: Iterable[dict]) -> list[dict]:
    """Per stage, in the order first logged: its train and held-out loss against the step, as SVG polyline points
    in a WIDTH × HEIGHT box, with the axis ranges and each series' last value. Stages with no loss are left out."""
    stages: dict[str, dict[str, list]] = {}
    for row in log_rows:
        step = _number(row.get("step"))
        if step is None:
            continue
        series = stages.setdefault(str(row.get("stage") or ""), {name: [] for name in LOSS_SERIES.values()})
        for key, name in LOSS_SERIES.items():
            value = _number(row.get(key))
            if value is not None:
                series[name].append((step, value))
    charts = []
    for stage, series in stages.items():
        every = [point for points in series.values() for point in points]
        if not every:
            continue
        x_max = max(step for step, _ in every) or 1.0
        y_min, y_max = min(value for _, value in every), max(value for _, value in every)
        x = _scale(0.0, x_max, LEFT, WIDTH - RIGHT)
        y = _scale(y_min, y_max, HEIGHT - BOTTOM, TOP)
        drawn = [
            {
                "name": name,
                "points": " ".join(f"{x(step)},{y(value)}" for step, value in _thin(points)),
                "dots": [{"x": x(step), "y": y(value)} for step, value in points] if len(points) <= 50 else [],
                "last": points[-1][1],
                "n": len(points),
            }
            for name, points in series.items()
            if points
        ]
        charts.append({"stage": stage, "series": drawn, "x_max": x_max, "y_min": y_min, "y_max": y_max, **_frame()})
    return charts


def _frame() -> dict:
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "label_y": HEIGHT - 5,
    }


def win_rate_chart(points: list[dict]) -> dict:
    """Win rates over cycles ({"label", "rate", "interval"} in order; rate None is drawn as a gap) on a 0–100%
    scale with the 50% line, each with its interval as a vertical bar."""
    y = _scale(0.0, 1.0, HEIGHT - BOTTOM, TOP)
    slot = (WIDTH - RIGHT - LEFT) / max(len(points), 1)
    drawn = []
    for i, point in enumerate(points):
        rate = _number(point.get("rate"))
        interval = point.get("interval") or (None, None)
        low, high = _number(interval[0]), _number(interval[1])
        drawn.append(
            {
                "label": point["label"],
                "x": round(LEFT + slot * (i + 0.5), 1),
                "y": None if rate is None else y(rate),
                "low": None if low is None else y(low),
                "high": None if high is None else y(high),
                "rate": rate,
            }
        )
    return {"points": drawn, "half": y(0.5), "full": y(1.0), "zero": y(0.0), **_frame()}
