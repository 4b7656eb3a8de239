"""On SQLite, write transactions queue on a file lock beside the database (config/sqlite/base.py)."""

import fcntl
import os
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, transaction
from django_tasks_db.utils import exclusive_transaction

from training.selectors import consistent_reads

pytestmark = [
    pytest.mark.django_db(transaction=True),  # no test-wide transaction holding the queue
    pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL has row locks"),
]


@pytest.fixture
def queue():
    """The queue's lock file, opened apart from Django's connections, as another process would."""
    with open(f"{connection.settings_dict['NAME']}.lock", "ab") as file:
        yield file


def held(queue) -> bool:
    try:
        fcntl.flock(queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(queue, fcntl.LOCK_UN)
    return False


def test_a_transaction_holds_its_place_until_it_commits(queue):
    assert not held(queue)
    with transaction.atomic():
        get_user_model().objects.create_user("writer")
        assert held(queue)
        with transaction.atomic():  # a savepoint neither joins again nor leaves
            assert held(queue)
        assert held(queue)
    assert not held(queue)
    assert get_user_model().objects.filter(username="writer").exists()


def test_a_transaction_that_fails_leaves_the_queue(queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        get_user_model().objects.create_user("gone")
        raise RuntimeError("the request failed")
    assert not held(queue)
    assert not get_user_model().objects.filter(username="gone").exists()


def test_a_task_workers_exclusive_transaction_queues_too(queue):
    with exclusive_transaction():
        get_user_model().objects.exists()
        assert held(queue)
    assert not held(queue)


def test_a_connection_closed_mid_transaction_leaves_the_queue(queue):
    with transaction.atomic():
        get_user_model().objects.create_user("cut")
        connection.close()
        assert not held(queue)
    assert not get_user_model().objects.filter(username="cut").exists()


def test_a_place_goes_with_the_process_that_held_it_not_with_its_forked_children(queue):
    connection.close()  # each process below opens its own
    release_child, child_waits = os.pipe()
    child_up, child_says = os.pipe()
    holder = os.fork()
    if holder == 0:  # takes its place, forks a child that outlives it, and dies mid-transaction
        try:
            with transaction.atomic():
                get_user_model().objects.exists()
                if os.fork() == 0:
                    os.write(child_says, b"x")
                    os.read(release_child, 1)
                    os._exit(0)
                os.read(child_up, 1)
                os._exit(0)
        finally:
            os._exit(1)  # never back into the test runner
    try:
        os.waitpid(holder, 0)
        assert not held(queue)
    finally:
        os.write(child_waits, b"x")


def test_a_snapshots_consistent_read_does_not_queue(queue):
    """A deferred transaction, which writers must not wait for."""
    with consistent_reads():
        assert connection.in_atomic_block
        assert not get_user_model().objects.exists()
        assert not held(queue)


def test_a_writer_waits_its_turn_and_gives_up_after_the_timeout_as_sqlite_would(queue, monkeypatch):
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.3)
    fcntl.flock(queue, fcntl.LOCK_EX)  # another process's transaction
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"), transaction.atomic():
        pass
    assert 0.3 <= time.monotonic() - started < 5
    assert not connection.in_atomic_block

    threading.Timer(0.1, fcntl.flock, [queue, fcntl.LOCK_UN]).start()
    with transaction.atomic():  # the other transaction ends while this one waits: it goes in
        get_user_model().objects.create_user("patient")
    assert get_user_model().objects.filter(username="patient").exists()
