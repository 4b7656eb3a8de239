"""A refused or missing page says so in words, inside the site's frame, with a way back."""

import pytest

from tests.conftest import login

pytestmark = pytest.mark.django_db


def test_a_wrong_role_gets_a_403_page_that_says_why_and_links_home(project, users, browser_client):
    login(browser_client, users["ann1"])
    response = browser_client.get("/p/demo/settings/")
    body = response.content.decode()
    assert response.status_code == 403 and "This needs the admin role" in body and 'href="/"' in body


def test_a_missing_page_gets_a_404_page_with_a_way_back(project, users, browser_client):
    login(browser_client, users["outsider"])
    response = browser_client.get("/p/demo/annotate/")
    body = response.content.decode()
    assert response.status_code == 404 and "Back to my projects" in body and "Quorum" in body
