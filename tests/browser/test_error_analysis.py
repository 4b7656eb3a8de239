"""A reviewer opens a cycle's error analysis, follows a group's "Collect this" badge to its failures, and reads one:
the prompt, both models' answers, the reference, and the nearest training item, which links to its page."""

import pytest

from tests.browser.conftest import doc_shot, log_in, shot
from tests.training.conftest import fresh_media  # noqa: F401 - a fixture
from tests.training.test_error_analysis import analysed  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reviewer_filters_to_a_group_from_its_badge_and_reads_a_failure(page, live_server, analysed):  # noqa: F811
    cycle, items, training = analysed["cycle"], analysed["items"], analysed["training"]
    log_in(page, live_server, "reviewer", "pw-reviewer")
    page.goto(f"{live_server.url}/p/demo/cycles/{cycle.id}/errors/")
    assert page.locator("[data-testid=failure]").count() == 7
    shot(page, "error-analysis-groups")

    page.click("[data-testid=recommendation]:has-text('Collect this')")
    page.wait_for_url("**dimension=domain&group=support#failures")
    assert (
        page.locator("#id_dimension").input_value() == "domain" and page.locator("#id_group").input_value() == "support"
    )
    failures = page.locator("[data-testid=failure]")
    assert failures.count() == 6  # the capital's row is in another domain
    label = failures.filter(has_text="Classify the sentiment of this review")
    assert label.locator("[data-testid=candidate-answer]").inner_text() == "positive"
    assert label.locator("[data-testid=champion-answer]").inner_text() == "negative"
    neighbour = label.locator("[data-testid=neighbours] a")
    assert neighbour.count() == 1 and neighbour.inner_text() == f"item {training[0].id}"
    label.scroll_into_view_if_needed()
    doc_shot(page, "error-analysis")

    page.select_option("#id_failure", "human_loss")
    page.click("#failures button:has-text('Filter')")
    page.wait_for_url("**failure=human_loss**")
    assert failures.count() == 1 and "2 of 2 judgments preferred the champion" in failures.inner_text()

    page.go_back()
    neighbour.click()
    page.wait_for_url(f"**/items/{training[0].id}/")
    assert "the soup was hot and tasty" in page.locator("main").inner_text()
    assert items["label"].id != training[0].id
