"""Services get what they need passed in, not looked up in Flask: the workspaces folder
is resolved by the app once, the reconciler sweeps in the app context its worker hands
it (a thread has none of its own)."""

from __future__ import annotations

import threading
from pathlib import Path

import redis
from rq.job import Job

from app import create_app
from app.config import Settings
from app.extensions import db
from app.models import InfraRun
from app.queue import redis_connection
from app.services import infra, runs
from app.services.reconcile import Reconciler
from tests.infra.test_serving_state import _age, live  # noqa: F401  (a fixture)


def test_the_default_workspaces_folder_is_under_the_instance_folder() -> None:
    app = create_app(Settings(_env_file=None, DATABASE_URL="sqlite://", WORKSPACES_DIR=""))
    settings = app.extensions["chatdock.settings"]
    # No app context: the path comes from the settings the app resolved, not current_app.
    assert runs.workspaces_dir(settings) == Path(app.instance_path) / "workspaces"


def test_the_reconciler_sweeps_in_the_context_it_is_given(infra_app, redis_url, live):  # noqa: F811
    run = infra.request_undeploy(live)
    redis.Redis.from_url(redis_url).flushdb()  # its job is gone (Redis flushed, restarted)
    _age(run)
    reconciler = Reconciler(infra_app.app_context, interval=3600)
    sweep = threading.Thread(target=reconciler._sweep)  # a thread without an app context
    sweep.start()
    sweep.join(timeout=60)
    db.session.expire_all()
    requeued = db.session.get(InfraRun, run.id)
    assert requeued is not None and requeued.rq_job_id is not None
    job = Job.fetch(requeued.rq_job_id, connection=redis_connection())  # its job is back
    assert job.args == (live.id, run.id)
