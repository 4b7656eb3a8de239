"""The project leaderboard: Bradley–Terry ratings of model versions from the judgments of model_review items,
checked through the database against the hand-computed case of test_comparison."""

import itertools

import pytest
from django.core.cache import cache

from annotation.models import Annotation
from tests.training.conftest import work
from tests.training.test_promotion import add_version
from training.leaderboard import CACHE_S, leaderboards_refresh, project_battles, project_leaderboard
from training.model_review import model_review_items_create

pytestmark = pytest.mark.django_db

_prompt_numbers = itertools.count()


def judged_pair(project, judge, winner, loser, wins: int, losses: int) -> None:
    """wins + losses model_review items of winner against loser; `judge` gives `winner` `wins` of them."""
    numbers = [next(_prompt_numbers) for _ in range(wins + losses)]

    def answers(version):
        return [
            {
                "id": f"q{n}",
                "messages": [{"role": "user", "content": f"Question {n}"}],
                "task_type": "chat",
                "response": f"{version.name} answers {n}",
            }
            for n in numbers
        ]

    model_review_items_create(
        project=project,
        candidate=winner,
        champion=loser,
        candidate_answers=answers(winner),
        champion_answers=answers(loser),
        overlap=1,
    )
    outcomes = iter([True] * wins + [False] * losses)

    def answer(item):
        side_of_winner = item.meta["model_review"]["sides"].index(winner.id)
        return {"choice": side_of_winner if next(outcomes) else 1 - side_of_winner, "strength": "clear"}

    work(project, judge, answer)


@pytest.fixture
def three(project, users):
    a, b, c = (add_version(project, name) for name in ("demo-a", "demo-b", "demo-c"))
    judged_pair(project, users["ann1"], a, b, 2, 1)
    judged_pair(project, users["ann1"], b, c, 2, 1)
    judged_pair(project, users["ann1"], a, c, 4, 1)
    return a, b, c


def test_strengths_four_two_one_through_the_database(three):
    """test_comparison's worked case: A beats B 2 of 3, B beats C 2 of 3, A beats C 4 of 5, so the ratings are
    1000 + 400·log10(2), 1000 and 1000 - 400·log10(2); the default prior moves them by well under a point."""
    a, b, c = three
    board = project_leaderboard(a.project, resamples=0)
    assert [r.model for r in board] == [a, b, c]
    assert [r.rating for r in board] == pytest.approx([1120.412, 1000.0, 879.588], abs=0.5)
    assert [r.battles for r in board] == [8, 6, 8]
    assert all(r.interval is None for r in board)


def test_intervals_come_from_resampled_battles(three):
    board = project_leaderboard(three[0].project, resamples=100, seed=3)
    for rating in board:
        low, high = rating.interval
        assert low < rating.rating < high
    assert board == project_leaderboard(three[0].project, resamples=100, seed=3)


def test_repeats_and_other_kinds_are_not_battles(three, project):
    battles = project_battles(project)
    assert len(battles) == 11
    Annotation.objects.filter(id=Annotation.objects.order_by("id").first().id).update(is_repeat=True)
    assert len(project_battles(project)) == 10


def test_a_project_without_judgments_has_an_empty_leaderboard(project):
    add_version(project, "demo-lonely")
    assert project_leaderboard(project) == []


def test_pages_get_the_last_fit_and_the_scheduler_tick_refits(three, project, users):
    a, b, c = three
    assert [r.model for r in project_leaderboard(project, resamples=0)] == [a, b, c]
    judged_pair(project, users["ann2"], c, a, 6, 0)
    assert [r.battles for r in project_leaderboard(project, resamples=0)] == [8, 6, 8]  # the kept fit
    leaderboards_refresh(resamples=0)
    board = project_leaderboard(project, resamples=0)
    assert [(r.model, r.battles) for r in board] == [(c, 14), (b, 6), (a, 14)]


def test_a_refit_that_finds_no_new_judgment_keeps_the_fit_another_day(three, project, monkeypatch):
    project_leaderboard(project, resamples=0)
    touched, fits = [], []
    monkeypatch.setattr(cache, "touch", lambda key, timeout: touched.append((key, timeout)) or True)
    monkeypatch.setattr("training.leaderboard.bradley_terry", lambda *args, **kwargs: fits.append(args) or [])
    leaderboards_refresh(resamples=0)
    assert touched == [(f"leaderboard:{project.id}:0:0", CACHE_S)] and fits == []
