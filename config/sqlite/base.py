"""Django's SQLite backend, with write transactions queued on a file lock instead of SQLite's busy handler.

Transactions begin IMMEDIATE (settings), so each takes the database's one write lock at BEGIN. A writer that finds
it taken is left by SQLite to retry on a back-off that reaches 100 ms a sleep: under a few concurrent writers some
wait seconds while others go through. Here a writer first takes an exclusive lock on a file beside the database,
retrying every millisecond, and holds it until its COMMIT or ROLLBACK, so each waiter starts within about a
millisecond of the writer before it. The lock is the kernel's: it holds across processes and threads, and goes
with a process that dies (a forked child closes its copy of the file). Waiting gives up after the connection's
timeout with "database is locked", as SQLite would. SQLite's lock still guards the data; this one only orders the
writers. A deferred transaction (a snapshot's consistent read), a statement outside any transaction, or another
tool takes SQLite's lock as before, and may keep a queued writer's BEGIN waiting on SQLite's handler, up to the
timeout again.
"""

import fcntl
import os
import time
import weakref

from django.db import OperationalError
from django.db.backends.sqlite3 import base

RETRY_SECONDS = 0.001

_queued = weakref.WeakSet()


def _forget_the_parents_queue() -> None:
    """A forked child shares its parent's open lock files, and a lock lasts while any process has its file open:
    closed here, the parent's lock goes with the parent, however long the child lives."""
    for wrapper in list(_queued):
        wrapper._queue.close()
        wrapper._queue = None
    _queued.clear()


os.register_at_fork(after_in_child=_forget_the_parents_queue)


class DatabaseWrapper(base.DatabaseWrapper):
    _queue = None

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode not in ("IMMEDIATE", "EXCLUSIVE"):
            return super()._start_transaction_under_autocommit()  # a reader's: it takes the write lock, if ever, later
        self._queue_join()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._queue_leave()
            raise

    def _commit(self):
        # Left first: the checkpoint that a COMMIT may run after it (every 1,000 pages of WAL, 15 ms for an
        # indexing batch) follows SQLite's release of its write lock, and no writer need queue behind it. The
        # next writer may find the COMMIT itself still under way and wait a millisecond or two on SQLite's own.
        self._queue_leave()
        super()._commit()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._queue_leave()

    def _close(self):
        try:
            super()._close()
        finally:
            self._queue_leave()

    def _queue_join(self) -> None:
        if self.is_in_memory_db():
            return
        path = f"{self.settings_dict['NAME']}.lock"
        if self._queue is None or self._queue.name != path:  # the test runner renames the database in place
            if self._queue is not None:
                self._queue.close()
            self._queue = open(path, "ab")  # noqa: SIM115 (kept open for the connection's next transactions)
            _queued.add(self)
        deadline = time.monotonic() + self.settings_dict["OPTIONS"].get("timeout", 5)
        while True:
            try:
                fcntl.flock(self._queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(RETRY_SECONDS)

    def _queue_leave(self) -> None:
        if self._queue is not None:
            fcntl.flock(self._queue, fcntl.LOCK_UN)
