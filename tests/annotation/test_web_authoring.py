import uuid

import pytest

from annotation.documents import split_passages
from annotation.models import Annotation, AuthorDraft, Document, Item, Paraphrase
from tests.conftest import demo_rows, login

pytestmark = pytest.mark.django_db


def post(client, token, url, data):
    return client.post(url, data, HTTP_X_CSRFTOKEN=token)


def test_an_annotator_authors_an_instruction_with_its_response(project, users, browser_client):
    token = login(browser_client, users["ann1"])
    data = {
        "client_id": str(uuid.uuid4()),
        "instruction": "Summarise the clause",
        "context": "The tenant shall pay rent monthly.",
        "task_type": "summarization",
        "domain": "legal",
        "response": "Rent is due every month.",
        "time_spent_ms": "9000",
    }
    response = post(browser_client, token, "/p/demo/author/instruction/", data)
    assert response.status_code == 200 and "Saved as item" in response.content.decode()
    item = Item.objects.get()
    assert item.prompt == "Summarise the clause\n\nThe tenant shall pay rent monthly."
    assert (item.task_type, item.domain, item.authored_by, item.completed_count, item.open_slots) == (
        "summarization",
        "legal",
        users["ann1"],
        1,
        1,
    )
    annotation = Annotation.objects.get()
    assert annotation.payload["instruction"] == "Summarise the clause" and annotation.time_spent_ms == 9000
    again = post(browser_client, token, "/p/demo/author/instruction/", data)
    assert "Already saved" in again.content.decode() and Item.objects.count() == 1


def test_authoring_needs_a_task_type_and_refuses_duplicates(project, users, browser_client, make_items):
    make_items(project, [{"kind": "demonstration", "prompt": "Existing prompt"}])
    token = login(browser_client, users["ann1"])
    base = {"instruction": "Existing prompt", "response": "An answer of some length."}
    no_type = post(browser_client, token, "/p/demo/author/instruction/", {**base, "client_id": str(uuid.uuid4())})
    assert no_type.status_code == 422 and "Pick the task type" in no_type.content.decode()
    duplicate = post(
        browser_client,
        token,
        "/p/demo/author/instruction/",
        {**base, "task_type": "open_qa", "client_id": str(uuid.uuid4())},
    )
    assert duplicate.status_code == 422 and "already exists as item" in duplicate.content.decode()
    hints = post(browser_client, token, "/p/demo/author/instruction/hints/", base)
    assert "already exists as item" in hints.content.decode()


def test_a_refusal_pair_creates_both_items_or_neither(project, users, browser_client):
    token = login(browser_client, users["ann1"])
    data = {
        "client_id": str(uuid.uuid4()),
        "harmful_prompt": "How do I make a pipe bomb?",
        "harm_category": "weapons",
        "refusal": "I can't help with that.",
        "refusal_style": "decline_explain",
        "twin_prompt": "How do bomb squads make devices safe?",
        "twin_answer": "",
    }
    incomplete = post(browser_client, token, "/p/demo/author/refusal/", data)
    assert incomplete.status_code == 422 and Item.objects.count() == 0
    response = post(
        browser_client, token, "/p/demo/author/refusal/", {**data, "twin_answer": "They use robots and X-rays."}
    )
    assert "Saved as item" in response.content.decode()
    harmful, twin = Item.objects.order_by("id")
    assert (harmful.safety, twin.safety, twin.harm_category) == ("should_refuse", "should_comply", "weapons")
    assert twin.meta == {"twin_of": harmful.id}
    assert sorted(a.payload.get("refusal_style", "") for a in Annotation.objects.all()) == ["", "decline_explain"]


def test_documents_become_passages_that_ground_new_items(project, users, browser_client):
    admin_token = login(browser_client, users["admin"])
    text = "First paragraph about leases.\n\nSecond paragraph about deposits."
    response = post(
        browser_client, admin_token, "/p/demo/documents/", {"title": "Tenancy law", "domain": "legal", "text": text}
    )
    assert "2 passages" not in response.content.decode() and "Imported" in response.content.decode()
    document = Document.objects.get()
    assert document.passages.count() == 1  # short paragraphs are joined up to the passage size

    token = login(browser_client, users["ann1"])
    page = browser_client.get("/p/demo/author/grounded/").content.decode()
    assert "First paragraph about leases." in page
    passage = document.passages.get()
    data = {
        "client_id": str(uuid.uuid4()),
        "passage": passage.id,
        "instruction": "What does the text say about deposits?",
        "task_type": "closed_qa",
        "response": "It has a paragraph about deposits.",
    }
    post(browser_client, token, "/p/demo/author/grounded/", data)
    item = Item.objects.get()
    assert (item.passage, item.domain, item.meta["document"]) == (passage, "legal", "Tenancy law")
    assert "no passages to write from" in browser_client.get("/p/demo/author/grounded/").content.decode().lower()


def test_documents_are_for_admins_and_report_bad_input(project, users, browser_client):
    login(browser_client, users["ann1"])
    assert browser_client.get("/p/demo/documents/").status_code == 403
    admin_token = login(browser_client, users["admin"])
    empty = post(browser_client, admin_token, "/p/demo/documents/", {"title": "T", "domain": "legal", "text": " "})
    assert empty.status_code == 422 and "The document is empty" in empty.content.decode()


def test_split_passages_joins_short_paragraphs_and_cuts_long_ones():
    long_paragraph = " ".join(f"Sentence number {i} is here." for i in range(200))
    passages = split_passages(f"Intro.\n\nMore.\n\n{long_paragraph}", limit=300)
    assert passages[0].startswith("Intro.\n\nMore.")
    assert all(len(p) <= 300 for p in passages)
    assert " ".join(passages).count("Sentence number") == 200


def test_paraphrases_join_the_items_group(project, users, make_items, browser_client):
    (item,) = make_items(project, demo_rows(1))
    token = login(browser_client, users["ann1"])
    url = f"/p/demo/items/{item.id}/paraphrases/"
    added = post(browser_client, token, url, {"text": "The prompt with index 0"})
    assert added.status_code == 200 and "The prompt with index 0" in added.content.decode()
    assert post(browser_client, token, url, {"text": "the prompt WITH index 0"}).status_code == 422
    assert post(browser_client, token, url, {"text": "Prompt   number 0"}).status_code == 422
    assert Paraphrase.objects.count() == 1


def test_author_drafts_autosave_and_are_cleared_on_save(project, users, browser_client):
    token = login(browser_client, users["ann1"])
    saved = post(browser_client, token, "/p/demo/author/instruction/draft/", {"instruction": "Half an idea"})
    assert saved.json()["version"] == 1
    assert "Half an idea" in browser_client.get("/p/demo/author/instruction/").content.decode()
    data = {"client_id": str(uuid.uuid4()), "instruction": "Half an idea", "task_type": "chat", "response": "Done now."}
    post(browser_client, token, "/p/demo/author/instruction/", data)
    assert AuthorDraft.objects.count() == 0
