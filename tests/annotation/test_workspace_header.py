"""The annotate page's header: progress, the rework link, Previous, and the queue an annotator may choose."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotation.assignment import annotation_submit, assignment_next
from annotation.errors import InvalidInput
from annotation.models import Annotation, Item
from annotation.project_settings import project_update
from tests.conftest import api_key, login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def rows():
    demos = [{"kind": "demonstration", "prompt": f"Demo {i}", "task_type": "code"} for i in range(3)]
    chats = [{"kind": "demonstration", "prompt": f"Chat {i}", "task_type": "chat"} for i in range(2)]
    prefs = [
        {"kind": "preference", "prompt": f"Pref {i}", "responses": [{"text": "a"}, {"text": "b"}], "task_type": "chat"}
        for i in range(2)
    ]
    return demos + chats + prefs


def submit(project, user, **queue):
    assignment = assignment_next(project=project, user=user, **queue)
    payload = {"choice": "tie"} if assignment.item.kind == "preference" else {"response": f"answer {assignment.id}"}
    annotation, _ = annotation_submit(assignment_id=assignment.id, user=user, client_id=uuid.uuid4(), payload=payload)
    return annotation


@pytest.fixture
def queues(project, make_items, users):
    project_update(project=project, by=users["admin"], queue_choice=True)
    make_items(project, rows())
    return project


def header(body: str) -> str:
    return body.split('<header class="task-head"', 1)[1].split("</header>", 1)[0]


def test_the_header_counts_today_what_is_left_and_the_project(project, make_items, users, browser_client):
    make_items(project, rows())
    submit(project, users["ann1"])
    submit(project, users["ann1"])
    submit(project, users["ann2"])
    login(browser_client, users["ann1"])
    head = header(browser_client.get("/p/demo/annotate/").content.decode())
    # 7 items, overlap 2: ann1 did two and holds a third; ann2 did one of ann1's, which is now complete.
    assert "<strong>2</strong> done today" in head
    assert "<strong>4</strong> left for you" in head
    assert "<strong>6</strong> open in the project" in head
    assert "returned to you for rework" not in head
    assert "data-open-guidelines" in head and "Guidelines" in head


def test_left_for_you_is_exact_up_to_its_cap(project, make_items, users, monkeypatch):
    from django.core.cache import cache

    from annotation import selectors

    make_items(project, rows())
    monkeypatch.setattr(selectors, "LEFT_FOR_ME_CAP", 3)
    progress = selectors.workspace_progress(selectors.membership_for(users["ann1"], "demo"))
    assert progress["left_for_me"] == 3 and progress["left_for_me_capped"]
    cache.clear()
    monkeypatch.setattr(selectors, "LEFT_FOR_ME_CAP", 7)
    progress = selectors.workspace_progress(selectors.membership_for(users["ann1"], "demo"))
    assert progress["left_for_me"] == 7 and not progress["left_for_me_capped"]


def test_the_cached_pool_counts_still_count_my_own_work_at_once(project, make_items, users):
    from annotation.selectors import membership_for, workspace_progress

    make_items(project, rows())
    membership = membership_for(users["ann1"], "demo")
    assert workspace_progress(membership)["left_for_me"] == 7
    submit(project, users["ann1"])
    assignment_next(project=project, user=users["ann1"])
    submit(project, users["ann2"])  # others' work shows within the cache's minute
    progress = workspace_progress(membership)
    assert progress["left_for_me"] == 5 and progress["open_items"] == 7 and progress["done_today"] == 1


def test_the_header_refreshes_on_every_swap(project, make_items, users, browser_client):
    make_items(project, rows())
    token = login(browser_client, users["ann1"])
    assignment = assignment_next(project=project, user=users["ann1"])
    data = {"client_id": str(uuid.uuid4()), "response": "Mine"}
    url = f"/p/demo/annotate/{assignment.id}/submit/"
    body = browser_client.post(url, data, HTTP_X_CSRFTOKEN=token, **HTMX).content.decode()
    assert body.lstrip().startswith('<section id="task"') and "<strong>1</strong> done today" in header(body)


def test_rejected_work_is_announced_with_a_link_to_rework_it(project, make_items, users, browser_client):
    make_items(project, rows())
    first = submit(project, users["ann1"])
    submit(project, users["ann1"])
    Annotation.objects.filter(id=first.id).update(review_status="rejected")
    login(browser_client, users["ann1"])
    head = header(browser_client.get("/p/demo/annotate/").content.decode())
    assert '<a class="badge rejected" href="/p/demo/work/?review=rejected">1 returned to you for rework</a>' in head


def test_previous_opens_my_last_annotation_to_edit_while_pending_else_its_history(
    project, make_items, users, browser_client
):
    make_items(project, rows())
    login(browser_client, users["ann1"])
    assert ">Previous<" not in header(browser_client.get("/p/demo/annotate/").content.decode())
    submit(project, users["ann1"])
    last = submit(project, users["ann1"])
    submit(project, users["ann2"])  # someone else's work is never "previous"
    head = header(browser_client.get("/p/demo/annotate/").content.decode())
    assert f'href="/p/demo/work/{last.id}/"' in head and ">Previous<" in head
    assert browser_client.get(f"/p/demo/work/{last.id}/").status_code == 200
    Annotation.objects.filter(id=last.id).update(review_status="accepted")
    head = header(browser_client.get("/p/demo/annotate/").content.decode())
    assert f'href="/p/demo/review/{last.id}/"' in head
    assert browser_client.get(f"/p/demo/review/{last.id}/").status_code == 200


def test_only_the_status_line_is_a_live_region(project, make_items, users, browser_client):
    make_items(project, rows())
    login(browser_client, users["ann1"])
    body = browser_client.get("/p/demo/annotate/").content.decode()
    assert '<section id="task" class="task">' in body
    assert '<span id="save-state" class="save-state" data-state="idle" role="status">' in body


def test_the_annotate_page_stays_within_its_query_budget(project, make_items, users, browser_client):
    make_items(project, rows())
    login(browser_client, users["ann1"])
    browser_client.get("/p/demo/annotate/")  # takes the lease and caches the project's open-item count
    with CaptureQueriesContext(connection) as captured:
        assert browser_client.get("/p/demo/annotate/").status_code == 200
    bookkeeping = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "COMMIT")
    queries = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(bookkeeping)]
    # session, user, membership, overdue leases?, anything of mine to come back to?, live assignment; the header: my
    # annotation counts and latest, the cached pool counts, my assignments since they were counted
    assert len(queries) == 9, "\n".join(q[:150] for q in queries)


# The queue an annotator may choose


def test_a_kind_or_task_type_queue_hands_out_only_its_items(queues, users):
    kinds = {submit(queues, users["ann1"], kind="preference").item.kind for _ in range(2)}
    assert kinds == {"preference"}
    assert assignment_next(project=queues, user=users["ann1"], kind="preference") is None
    types = {submit(queues, users["ann2"], task_type="code").item.task_type for _ in range(3)}
    assert types == {"code"}
    assert assignment_next(project=queues, user=users["ann2"], task_type="code") is None
    assert assignment_next(project=queues, user=users["ann2"]).item.task_type == "chat"


def test_a_live_lease_comes_first_whatever_the_queue(queues, users):
    held = assignment_next(project=queues, user=users["ann1"], task_type="code")
    assert assignment_next(project=queues, user=users["ann1"], kind="preference").id == held.id


def test_a_queue_the_project_does_not_offer_is_refused(queues, project, users):
    for queue in ({"kind": "nope"}, {"task_type": "poetry"}, {"kind": "preference", "task_type": "chat"}):
        with pytest.raises(InvalidInput):
            assignment_next(project=queues, user=users["ann1"], **queue)
    project_update(project=project, by=users["admin"], queue_choice=False)
    with pytest.raises(InvalidInput, match="does not let annotators choose"):
        assignment_next(project=project, user=users["ann1"], kind="preference")


def test_the_picker_lists_the_queues_with_their_names_and_keeps_the_choice(queues, users, browser_client):
    token = login(browser_client, users["ann1"])
    body = browser_client.get("/p/demo/annotate/?queue=kind:preference").content.decode()
    head = header(body)
    for label in ("All work", "Demonstrations", "Preferences", "Refusal cases", "Code", "Open question"):
        assert f">{label}</option>" in head, label
    assert '<option value="kind:preference" selected>' in head and "demonstration</option>" not in head
    assert 'data-kind="preference"' in body and "left for you in Preferences" in head
    assignment = Item.objects.get(prompt="Pref 0").assignments.get() or None
    assert f'action="/p/demo/annotate/{assignment.id}/submit/?queue=kind:preference"' in body
    url = f"/p/demo/annotate/{assignment.id}/submit/?queue=kind:preference"
    data = {"client_id": str(uuid.uuid4()), "choice": "left", "strength": "clear"}
    body = browser_client.post(url, data, HTTP_X_CSRFTOKEN=token, **HTMX).content.decode()
    assert 'data-kind="preference"' in body and "Pref 1" in body
    skip = f"/p/demo/annotate/{Item.objects.get(prompt='Pref 1').assignments.get().id}/skip/?queue=kind:preference"
    body = browser_client.post(skip, {"reason": "Not my language"}, HTTP_X_CSRFTOKEN=token, **HTMX).content.decode()
    assert "Nothing left for you in Preferences" in body
    assert 'href="/p/demo/annotate/"' in body and ">All work</a>" in body


def test_an_unfinished_task_outside_the_queue_comes_first_and_says_so(queues, users, browser_client):
    login(browser_client, users["ann1"])
    held = assignment_next(project=queues, user=users["ann1"], task_type="code")
    body = browser_client.get("/p/demo/annotate/?queue=kind:preference").content.decode()
    assert f"/annotate/{held.id}/submit/" in body
    assert "Your unfinished task comes first: it is from demonstrations, outside Preferences" in body


def test_a_junk_queue_is_a_400_with_a_message(queues, users, browser_client):
    token = login(browser_client, users["ann1"])
    for junk in ("kind:nope", "type:poetry", "kind:preference\x00", "x" * 5000):
        response = browser_client.get("/p/demo/annotate/", {"queue": junk})
        assert response.status_code == 400, junk
        assert "This project has no such queue" in response.content.decode() and ">All work</a>" in (
            response.content.decode()
        )
    assignment = assignment_next(project=queues, user=users["ann1"])
    url = f"/p/demo/annotate/{assignment.id}/submit/?queue=kind:nope"
    response = browser_client.post(url, {"client_id": str(uuid.uuid4()), "response": "kept"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400 and "no such queue" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_without_queue_choice_there_is_no_picker_and_a_queue_is_ignored(project, make_items, users, browser_client):
    make_items(project, rows())
    login(browser_client, users["ann1"])
    response = browser_client.get("/p/demo/annotate/?queue=kind:preference")
    body = response.content.decode()
    assert response.status_code == 200 and 'data-kind="demonstration"' in body and "queue-picker" not in body


def test_the_api_takes_the_same_queue(queues, project, users):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['ann1'])}")
    response = client.post("/api/v1/projects/demo/assignments/next/?kind=preference")
    assert response.status_code == 200 and response.json()["item"]["kind"] == "preference"
    client.post(f"/api/v1/assignments/{response.json()['id']}/skip/", {"reason": "unclear"}, format="json")
    response = client.post("/api/v1/projects/demo/assignments/next/?task_type=code")
    assert response.json()["item"]["task_type"] == "code"
    for junk in ("kind=nope", "task_type=poetry", "queue=code", "kind=" + "x" * 500):
        response = client.post(f"/api/v1/projects/demo/assignments/next/?{junk}")
        assert response.status_code == 400 and response.json()["detail"], junk
    project_update(project=project, by=users["admin"], queue_choice=False)
    response = client.post("/api/v1/projects/demo/assignments/next/?kind=preference")
    assert response.status_code == 400 and "does not let annotators choose" in response.json()["detail"]


def test_queue_choice_is_a_setting_on_every_surface(project, users, browser_client):
    from annotation.project_settings import settings_check

    with pytest.raises(InvalidInput, match="true or false"):
        settings_check({"queue_choice": "yes"}, current=project)
    token = login(browser_client, users["admin"])
    settings = browser_client.get("/p/demo/settings/").content.decode()
    assert 'name="queue_choice"' in settings and "Annotators may choose their queue" in settings
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(users['admin'])}")
    response = client.patch("/api/v1/projects/demo/", {"queue_choice": True}, format="json")
    assert response.status_code == 200 and response.json()["queue_choice"] is True
    response = client.patch("/api/v1/projects/demo/", {"queue_choice": "maybe"}, format="json")
    assert response.status_code == 400
    users["admin"].is_staff = True
    users["admin"].save()
    data = {"name": "Queued", "slug": "queued", "kinds": ["demonstration"], "overlap": "1", "queue_choice": "on"}
    assert browser_client.post("/projects/new/", data, HTTP_X_CSRFTOKEN=token).status_code == 302
    from annotation.models import Project

    assert Project.objects.get(slug="queued").queue_choice is True


def test_a_plain_form_post_goes_back_to_the_same_queue(queues, users, browser_client):
    token = login(browser_client, users["ann1"])
    assignment = assignment_next(project=queues, user=users["ann1"], kind="preference")
    url = f"/p/demo/annotate/{assignment.id}/submit/?queue=kind:preference"
    response = browser_client.post(url, {"client_id": str(uuid.uuid4()), "choice": "tie"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302 and response["Location"] == "/p/demo/annotate/?queue=kind:preference"
