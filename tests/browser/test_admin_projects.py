"""A staff admin creates a project in the browser, sets its task-type mix (with the live sum) and writes its
guidelines with a preview."""

import pytest

from annotation.models import Project
from tests.browser.conftest import doc_shot, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_staff_admin_creates_a_project_sets_the_mix_and_writes_guidelines(page, live_server, demo):
    log_in(page, live_server, "admin", demo["admin"])
    page.click("text=New project")
    page.fill("#name", "Legal QA")
    page.fill("#slug", "legal-qa")
    page.uncheck("input[name=kinds][value=model_review]")
    page.fill("#overlap", "2")
    page.click("button:has-text('Create project')")
    page.wait_for_url(f"{live_server.url}/p/legal-qa/settings/")

    page.fill("#mix_summarization", "50")
    page.fill("#mix_closed_qa", "30")
    total = page.locator("#mix-total")
    assert "80%" in total.inner_text() and "do not add up to 100%" in total.inner_text()
    page.fill("#mix_extraction", "20")
    assert "100%" in total.inner_text() and "do not add up" not in total.inner_text()
    page.fill("#harm_categories", "privacy\nfraud")
    page.fill("#system_prompt", "You are a careful legal assistant.")
    doc_shot(page, "project-settings")
    page.click("button:has-text('Save settings')")
    page.wait_for_selector("text=Settings saved.")

    project = Project.objects.get(slug="legal-qa")
    assert project.kinds == ["demonstration", "refusal", "preference"] and project.overlap == 2
    assert project.task_type_mix == {"summarization": 0.5, "closed_qa": 0.3, "extraction": 0.2}
    assert project.harm_categories == ["privacy", "fraud"]

    page.click(".subnav >> text=Guidelines")
    page.fill("#guidelines-text", "# How we work\n\n- Cite the **statute**.\n\n<script>alert(1)</script>")
    page.fill("#note", "First version")
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#guidelines-preview h1:has-text('How we work')")
    assert page.locator("#guidelines-preview strong").inner_text() == "statute"
    assert page.locator("#guidelines-preview script").count() == 0
    doc_shot(page, "guidelines-editor")
    page.click("button:has-text('Save new version')")
    page.wait_for_selector("text=Saved as version 1.")
    assert page.locator("td:has-text('First version')").count() == 1
    project.refresh_from_db()
    assert project.guidelines_version == 1 and project.guidelines.startswith("# How we work")
