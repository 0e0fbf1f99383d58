"""How chatdock's web process is served, wherever it runs (Dockerfile, deploy/, the run
command and the tests all start gunicorn with this file).

Chat requests spend nearly all their time waiting on a model (1-30 s, a stream as long as
the answer), so each worker is a gevent worker: one process holds up to
``WORKER_CONNECTIONS`` requests at once, each a greenlet that yields while it waits on
the provider, PostgreSQL (psycopg 3 cooperates with gevent on its own), Redis or a socket.
Why gevent and not threads or an ASGI server: docs/decisions.md. Only ``os`` is imported
here: this file is read before gevent patches the standard library.
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gevent"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# A gevent worker heartbeats from its own loop; a stream may last minutes, which is fine.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "50"))
keepalive = 5
backlog = 2048
# chatdock writes its own access line per request (JSON, with the request id and the
# client: app/request_hooks.py); gunicorn's plain-text one only when asked for (a path,
# or "-" for stdout): two lines per request cost CPU on every chat and say the same.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
wsgi_app = "wsgi:app"


def post_worker_init(worker: object) -> None:
    """Each worker keeps its clients' chat settings while PostgreSQL says nothing changed
    (app.listen_for_changes); started here, after gevent patched the worker."""
    from app import listen_for_changes

    listen_for_changes(worker.wsgi)  # type: ignore[attr-defined]  # gunicorn's Worker
