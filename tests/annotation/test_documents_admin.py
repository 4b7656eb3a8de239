"""Domain documents for admins: the list with search, a document's page with the items citing each passage, and
deleting one, refused while authored items cite it; the same through the API."""

import uuid

import pytest

from annotation.authoring import demonstration_author
from annotation.documents import document_delete, document_import, documents_search
from annotation.errors import Conflict
from annotation.models import AuditEvent, Document, Passage
from annotation.project_settings import project_archive
from annotation.projects import project_create
from tests.annotation.test_api import client_for
from tests.conftest import login

pytestmark = pytest.mark.django_db

LEASES = "Leases in Ruritania run for seven years.\n\nA tenant may sublet with the landlord's consent."


@pytest.fixture
def documents(project, users):
    leases = document_import(project=project, user=users["admin"], title="Lease law", domain="legal", text=LEASES)
    dosage = document_import(
        project=project, user=users["admin"], title="Dosage guide", domain="medical", text="Take two tablets daily."
    )
    return leases, dosage


def cite(project, user, passage: Passage):
    return (
        demonstration_author(
            project=project,
            user=user,
            instruction=f"Explain passage {passage.position}",
            response="It says so.",
            task_type="open_qa",
            passage=passage,
            client_id=uuid.uuid4(),
        )
        .annotations[0]
        .item
    )


def test_search_matches_titles_and_passage_text(project, documents):
    leases, dosage = documents
    assert list(documents_search(project, "")) == [dosage, leases]
    assert list(documents_search(project, "sublet")) == [leases]
    assert list(documents_search(project, "dosage")) == [dosage]
    assert list(documents_search(project, "nothing like it")) == []


def test_the_documents_page_searches_and_links_each_document(project, users, browser_client, documents):
    leases, _ = documents
    login(browser_client, users["admin"])
    page = browser_client.get("/p/demo/documents/", {"q": "SUBLET"})
    assert page.status_code == 200
    assert f'href="/p/demo/documents/{leases.id}/"'.encode() in page.content and b"Dosage guide" not in page.content
    assert b"No document matches" in browser_client.get("/p/demo/documents/", {"q": "zebra"}).content


def test_the_document_page_lists_passages_and_the_items_citing_them(project, users, browser_client, documents):
    leases, _ = documents
    first = leases.passages.order_by("position").first()
    item = cite(project, users["ann1"], first)
    login(browser_client, users["admin"])
    page = browser_client.get(f"/p/demo/documents/{leases.id}/")
    assert page.status_code == 200
    assert b"Leases in Ruritania" in page.content and f'href="/p/demo/items/{item.id}/"'.encode() in page.content


def test_delete_is_refused_naming_the_citing_items(project, users, browser_client, documents):
    leases, _ = documents
    first = leases.passages.order_by("position").first()
    item = cite(project, users["ann1"], first)
    with pytest.raises(Conflict, match=f"items {item.id}\\)"):
        document_delete(project=project, by=users["admin"], document_id=leases.id)
    token = login(browser_client, users["admin"])
    page = browser_client.post(f"/p/demo/documents/{leases.id}/delete/", {"csrfmiddlewaretoken": token})
    assert page.status_code == 409 and f"items {item.id})".encode() in page.content
    assert Document.objects.filter(id=leases.id).exists() and not AuditEvent.objects.filter(action="document.delete")


def test_delete_removes_an_uncited_document_with_its_passages_and_is_audited(project, users, browser_client, documents):
    leases, _ = documents
    token = login(browser_client, users["admin"])
    response = browser_client.post(f"/p/demo/documents/{leases.id}/delete/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/p/demo/documents/"
    assert not Document.objects.filter(id=leases.id).exists() and not Passage.objects.filter(document=leases.id)
    event = AuditEvent.objects.get(action="document.delete")
    assert event.actor == users["admin"] and event.before["title"] == "Lease law"


def test_an_archived_project_refuses_document_changes(project, users, documents):
    project_archive(project=project, by=users["admin"])
    with pytest.raises(Conflict):
        document_delete(project=project, by=users["admin"], document_id=documents[0].id)
    response = client_for(users["admin"]).post(
        "/api/v1/projects/demo/documents/", {"title": "T", "domain": "legal", "text": "x"}, format="json"
    )
    assert response.status_code == 409


def test_the_api_lists_searches_creates_shows_and_deletes(project, users, documents):
    leases, dosage = documents
    admin = client_for(users["admin"])
    listed = admin.get("/api/v1/projects/demo/documents/").json()["results"]
    assert [(d["id"], d["passages"]) for d in listed] == [(leases.id, 1), (dosage.id, 1)]
    assert [d["id"] for d in admin.get("/api/v1/projects/demo/documents/?q=tablets").json()["results"]] == [dosage.id]
    assert admin.get("/api/v1/projects/demo/documents/?colour=red").status_code == 400
    created = admin.post(
        "/api/v1/projects/demo/documents/",
        {"title": "Tax", "domain": "finance", "text": "Pay by April."},
        format="json",
    )
    assert created.status_code == 201 and created.json()["passages"][0]["text"] == "Pay by April."
    assert admin.post("/api/v1/projects/demo/documents/", {"title": "x"}, format="json").status_code == 400
    item = cite(project, users["ann1"], leases.passages.get())
    detail = admin.get(f"/api/v1/documents/{leases.id}/").json()
    assert detail["passages"][0]["cited_by"] == [item.id]
    refused = admin.delete(f"/api/v1/documents/{leases.id}/")
    assert refused.status_code == 409 and str(item.id) in refused.json()["detail"]
    assert admin.delete(f"/api/v1/documents/{dosage.id}/").status_code == 204
    assert not Document.objects.filter(id=dosage.id).exists()


@pytest.mark.parametrize(
    ("who", "expected"), [("ann1", 403), ("reviewer", 403), ("outsider", 404), ("other_admin", 404)]
)
def test_only_admins_of_the_documents_project_see_or_delete_it(
    project, users, browser_client, documents, who, expected
):
    leases, _ = documents
    if who == "other_admin":
        project_create(creator=users["outsider"], name="Other", slug="other")
        who = "outsider"
    api = client_for(users[who])
    assert api.get("/api/v1/projects/demo/documents/").status_code == expected
    assert api.get(f"/api/v1/documents/{leases.id}/").status_code == expected
    assert api.delete(f"/api/v1/documents/{leases.id}/").status_code == expected
    token = login(browser_client, users[who])
    assert browser_client.get(f"/p/demo/documents/{leases.id}/").status_code == expected
    response = browser_client.post(f"/p/demo/documents/{leases.id}/delete/", {"csrfmiddlewaretoken": token})
    assert response.status_code == expected
    assert Document.objects.filter(id=leases.id).exists()


def test_an_admin_of_another_project_cannot_reach_the_document_through_their_own(users, browser_client, documents):
    project_create(creator=users["outsider"], name="Other", slug="other")
    token = login(browser_client, users["outsider"])
    assert browser_client.get(f"/p/other/documents/{documents[0].id}/").status_code == 404
    response = browser_client.post(f"/p/other/documents/{documents[0].id}/delete/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 404 and Document.objects.filter(id=documents[0].id).exists()
