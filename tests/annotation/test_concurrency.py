import random
import threading
import uuid
from collections import Counter

import pytest
from django.db import connection

from annotation.assignment import annotation_submit, assignment_next, assignment_skip
from annotation.models import Annotation, Assignment, Item, Membership
from annotation.projects import project_create
from tests.conftest import demo_rows

CLIENTS = 16
ITEMS = 60
OVERLAP = 3


def annotate_until_done(project, user, failures, barrier=None, skip_rate=0.1):
    rng = random.Random(user.id)
    try:
        if barrier is not None:
            barrier.wait()
        while (assignment := assignment_next(project=project, user=user)) is not None:
            if rng.random() < skip_rate:
                assignment_skip(assignment_id=assignment.id, user=user, reason="busy")
                continue
            client_id = uuid.uuid4()
            for _ in range(2):  # a retried submit must not count twice
                annotation_submit(
                    assignment_id=assignment.id, user=user, client_id=client_id, payload={"response": "ok"}
                )
    except Exception as exc:  # noqa: BLE001 - reported by the test below
        failures.append(repr(exc))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_sixteen_clients_never_overshoot_overlap_or_repeat_an_item(django_user_model, make_items):
    owner = django_user_model.objects.create_user("owner")
    project = project_create(creator=owner, name="Race", slug="race", overlap=OVERLAP)
    make_items(project, demo_rows(ITEMS))
    annotators = [django_user_model.objects.create_user(f"racer{i}") for i in range(CLIENTS)]
    Membership.objects.bulk_create(Membership(project=project, user=user) for user in annotators)

    barrier = threading.Barrier(CLIENTS)
    failures: list[str] = []
    threads = [threading.Thread(target=annotate_until_done, args=(project, u, failures, barrier)) for u in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # A skip releases its slot; clients that had already been told "nothing left" have stopped asking by then, so
    # whoever asks next takes it.
    for user in annotators:
        annotate_until_done(project, user, failures, skip_rate=0)

    assert failures == []
    per_item = Counter(Annotation.objects.values_list("item_id", flat=True))
    assert max(per_item.values()) == OVERLAP
    assert len(per_item) == ITEMS, "every item reaches its overlap when enough annotators are free"
    pairs = Counter(Assignment.objects.values_list("item_id", "annotator_id"))
    assert max(pairs.values()) == 1
    for item in Item.objects.all():
        assert (item.completed_count, item.open_slots) == (per_item[item.id], 0)
    assert connection.vendor in {"postgresql", "sqlite"}
