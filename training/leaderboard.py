"""The project's model leaderboard: a Bradley–Terry rating with a bootstrap interval for every model version that
took part in a blind comparison, from every judgment of the project's model_review items."""

import hashlib
import json
from dataclasses import replace

from django.core.cache import cache

from annotation.models import Annotation, Project
from annotation.taxonomy import Kind
from training.comparison import Rating, bradley_terry
from training.model_review import SIDES, outcome
from training.models import ModelVersion

CACHE_S = 24 * 3600
RESAMPLES = 1000


def project_battles(project: Project) -> list[tuple[int, int, str]]:
    """(left model version id, right model version id, outcome for the left) for each judgment of a model_review
    item of the project; self-consistency repeats are not evidence, and items not built from two versions are
    left out."""
    rows = Annotation.objects.filter(project=project, kind=Kind.MODEL_REVIEW, is_repeat=False).values_list(
        f"item__{SIDES}", "payload__choice"
    )
    return [
        (sides[0], sides[1], outcome(choice, sides, sides[0]))
        for sides, choice in rows.order_by("id")
        if isinstance(sides, list) and len(sides) == 2
    ]


def project_leaderboard(
    project: Project, *, resamples: int | None = None, seed: int = 0, fresh: bool = False
) -> list[Rating]:
    """Every model version that was judged, best first, each Rating's `model` the ModelVersion itself; battles
    resampled `resamples` (default RESAMPLES) times for the intervals (training.comparison.bradley_terry).

    A thousand refits take seconds, so pages never wait for one: the last fit is kept in the shared cache and
    served as it is (its `battles` say how many judgments it rests on) unless `fresh` is asked, which refits when a
    judgment changed; the scheduler's every tick does that, so the figures trail new judgments by a tick. Only a
    project never fitted is fitted in the request."""
    resamples = RESAMPLES if resamples is None else resamples
    key = f"leaderboard:{project.id}:{resamples}:{seed}"
    kept = cache.get(key)
    if kept is None or fresh:
        battles = project_battles(project)
        digest = hashlib.sha256(json.dumps(battles).encode()).hexdigest()
        if kept is None or kept[0] != digest:
            kept = (digest, bradley_terry(battles, resamples=resamples, seed=seed))
            cache.set(key, kept, CACHE_S)
        else:
            cache.touch(key, CACHE_S)
    ratings = kept[1]
    versions = ModelVersion.objects.filter(project=project).in_bulk([rating.model for rating in ratings])
    return [replace(rating, model=versions[rating.model]) for rating in ratings if rating.model in versions]


def leaderboards_refresh(*, resamples: int | None = None) -> None:
    """Refit the leaderboard of every project with model comparisons whose judgments changed."""
    for project in Project.objects.filter(annotations__kind=Kind.MODEL_REVIEW).distinct():
        project_leaderboard(project, resamples=resamples, fresh=True)
