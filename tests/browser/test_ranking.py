"""Ranking three responses in Chromium: by keyboard on a focused response, and by drag and drop."""

import pytest

from annotation.models import Annotation, Draft
from tests.browser.conftest import log_in, project_with, shot

pytestmark = pytest.mark.django_db(transaction=True)

RANKED = [
    {
        "kind": "preference",
        "prompt": "Which explanation of recursion is best?",
        "responses": [
            {"text": "A function that calls itself on a smaller input until a base case."},
            {"text": "Recursion is recursion."},
            {"text": "Solving a problem by solving smaller copies of it first."},
        ],
    }
]


def card(page, letter: str):
    return page.locator(f'.rank-card[data-letter="{letter}"]')


def places(page) -> dict[str, str]:
    return page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.rank-card')]"
        ".map((c) => [c.dataset.letter, c.querySelector('select').value]))"
    )


def expected_ranking(order: list[int], tiers: list[str]) -> list[list[int]]:
    return [sorted(order["ABC".index(letter)] for letter in tier) for tier in tiers]


def test_a_ranking_by_keyboard_is_saved_restored_and_submitted(page, live_server, demo):
    project_with(RANKED, "rank-keys", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/rank-keys/annotate/")
    page.wait_for_selector("[data-ranking][data-ready]")
    assert page.evaluate("document.activeElement.dataset.letter") == "A"
    page.keyboard.press("ArrowUp")  # A: from "not ranked yet" to a place of its own, the first
    card(page, "B").focus()
    page.keyboard.press("1")  # B: into place 1, tied with A
    page.keyboard.press("ArrowDown")  # B: out of the tie, a place below
    card(page, "C").focus()
    page.keyboard.press("Shift+ArrowUp")  # C: tied with the last place (B)
    page.keyboard.press("ArrowUp")  # C: a place of its own above B
    assert places(page) == {"A": "1", "B": "3", "C": "2"}
    page.keyboard.press("Shift+ArrowUp")  # C: tied with A
    assert places(page) == {"A": "1", "B": "2", "C": "1"}
    assert page.locator("[data-ranking-status]").text_content() == "Response C: place 1 of 2, tied with A"
    assert page.evaluate("document.activeElement.dataset.letter") == "C"
    page.wait_for_selector("#save-state[data-state=saved]")
    assert Draft.objects.get().payload["rank_2"] == "1"

    page.reload()
    page.wait_for_selector("[data-ranking][data-ready]")
    assert places(page) == {"A": "1", "B": "2", "C": "1"}
    assert page.locator('.tier[data-place="1"] .rank-card').evaluate_all(
        "cards => cards.map(c => c.dataset.letter)"
    ) == [
        "A",
        "C",
    ]
    shot(page, "ranking")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    annotation = Annotation.objects.select_related("assignment").get()
    assert annotation.payload["ranking"] == expected_ranking(annotation.assignment.response_order, ["AC", "B"])


def test_a_ranking_by_drag_and_drop_and_an_incomplete_one_is_refused(page, live_server, demo):
    project_with(RANKED, "rank-drag", ["annotator1"])
    log_in(page, live_server, "annotator1", demo["annotator1"])
    page.goto(f"{live_server.url}/p/rank-drag/annotate/")
    page.wait_for_selector("[data-ranking][data-ready]")
    card(page, "B").drag_to(page.locator(".tier-gap").last)  # B: the first place
    card(page, "A").drag_to(page.locator('.tier[data-place="1"]'))  # A: tied with B
    card(page, "C").drag_to(page.locator(".tier-gap").last)  # C: a place below
    assert places(page) == {"A": "1", "B": "1", "C": "2"}
    card(page, "A").drag_to(page.locator("[data-unranked]"))  # A: out of the ranking again
    assert places(page) == {"A": "", "B": "1", "C": "2"}

    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#ranking-error")
    assert "Give every response a place" in page.locator("#ranking-error").text_content()
    assert places(page) == {"A": "", "B": "1", "C": "2"}
    assert not Annotation.objects.exists()

    page.wait_for_selector("[data-ranking][data-ready]")
    page.evaluate("window.scrollTo(0, 0)")  # the refused submit focused A's place, further down
    page.set_viewport_size({"width": 1280, "height": 1200})  # the whole ranking in view: a drag does not scroll
    card(page, "A").drag_to(page.locator(".tier-gap").first)  # A: above everything
    assert places(page) == {"A": "1", "B": "2", "C": "3"}
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Nothing left for you here")
    annotation = Annotation.objects.select_related("assignment").get()
    assert annotation.payload["ranking"] == expected_ranking(annotation.assignment.response_order, ["A", "B", "C"])
