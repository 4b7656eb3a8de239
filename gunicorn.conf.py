"""Gunicorn's settings (read from the working directory) for `make run` and production: docs/deployment.md.

Environment: WEB_CONCURRENCY (workers), BIND (address; `serve --addr` passes its own), LOG_LEVEL (as Django's).
"""

import gc
import os


def _whole_number(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, not {value!r}.")
    return int(value)


wsgi_app = "config.wsgi"
bind = os.environ.get("BIND", "127.0.0.1:8000")

# Gunicorn's advice of 2 per core + 1, at most 16: every worker keeps a database connection open
# (CONN_MAX_AGE), and several web nodes' workers must stay under PostgreSQL's max_connections (100 by default).
workers = _whole_number("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 16))
# Sync workers: a request running past `timeout` has its worker killed and answered 502. 30 s is the limit the
# imports over HTTP are sized for (annotation/item_import.py: 50,000 lines take about 9 s); longer work goes to the
# task queues. Behind a proxy (team server, cluster), the proxy buffers slow clients.
worker_class = "sync"
timeout = 30
graceful_timeout = 30
# The app is imported once in the master and forked: workers start at once and share its memory.
preload_app = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
# Gunicorn's control socket sits at one path per user, which two servers on one machine would fight over.
control_socket_disable = True


def pre_fork(server, worker):
    """The preloaded app's objects move out of the cyclic collector's reach before each worker forks: a worker's
    collections then skip them (a 5,000-line import spent a tenth of its parse in collections) and leave their
    memory pages shared with the master."""
    gc.freeze()
