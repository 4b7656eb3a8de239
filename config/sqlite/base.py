"""Django's SQLite backend, with write transactions queued on a file lock instead of SQLite's busy handler.

Transactions begin IMMEDIATE (settings), so each takes the database's one write lock at BEGIN. A writer that finds
it taken is left by SQLite to retry on a back-off that reaches 100 ms a sleep: under a few concurrent writers some
wait seconds while others go through. Here a writer first takes an exclusive lock on a file beside the database,
retrying every millisecond, and holds it until its COMMIT or ROLLBACK, so each waiter starts within about a
millisecond of the writer before it. The lock is the kernel's: it holds across processes and threads, and goes
with a process that dies. Waiting gives up after the connection's timeout with "database is locked", as SQLite
would. SQLite's own lock still guards the data; this one only orders the writers, and a deferred transaction
(a snapshot's consistent read) or a statement outside any transaction takes SQLite's lock as before.
"""

import fcntl
import os
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

RETRY_SECONDS = 0.001


class DatabaseWrapper(base.DatabaseWrapper):
    _queue = None
    _queue_pid = None

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
        if self._queue_pid != os.getpid():  # a forked child shares its parent's open file, and so its lock
            self._queue = open(f"{self.settings_dict['NAME']}.lock", "ab")  # noqa: SIM115 (held for the connection)
            self._queue_pid = os.getpid()
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
        if self._queue is not None and self._queue_pid == os.getpid():
            fcntl.flock(self._queue, fcntl.LOCK_UN)
