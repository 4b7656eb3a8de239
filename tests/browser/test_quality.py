"""An admin finds the weakest annotators and the most disputed items from the dashboards, in a real browser."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from annotation.assignment import annotation_submit, assignment_next
from annotation.models import Adjudication
from tests.browser.conftest import log_in, project_with, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_adjudicates_the_most_disputed_item(page, live_server, demo):
    rows = [
        {
            "kind": "preference",
            "prompt": f"Pick the better answer {i}",
            "responses": [{"text": "good"}, {"text": "bad"}],
        }
        for i in range(6)
    ]
    project = project_with(rows, "judged", ["annotator1", "annotator2", "reviewer"], overlap=3)
    users = get_user_model().objects
    for name, choice in [("annotator1", 0), ("annotator2", 0), ("reviewer", 1)]:
        user = users.get(username=name)
        while (assignment := assignment_next(project=project, user=user)) is not None:
            payload = {"choice": choice, "strength": "clear", "rationale": f"{name} thinks so"}
            annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)

    log_in(page, live_server, "admin", demo["admin"])
    page.goto(f"{live_server.url}/p/judged/quality/")
    page.wait_for_selector("text=Krippendorff")
    shot(page, "quality-overview")
    page.click("text=Disputes")
    page.click("table a >> nth=0")
    page.wait_for_selector("text=reviewer thinks so")
    page.check('input[name="choice"][value="0"]')
    page.check('input[name="strength"][value="clear"]')
    page.fill("#rationale", "Response 0 is correct.")
    page.click("text=Save final label")
    page.wait_for_selector("text=Final label saved.")
    page.click("text=Promote to gold")
    page.wait_for_selector("text=This item is now gold.")
    adjudication = Adjudication.objects.get()
    assert adjudication.choice == 0 and adjudication.item.is_gold
