"""Every job sends ``post_<job>`` (with its run) on every path, as docs/infrastructure.md
says: a run that is done, errored, stale, stopped, not live any more, or waiting for a
busy workspace. Receivers (notify, audit, clean up) rely on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from app import signals
from app.extensions import db
from app.infra.terraform import TerraformAborted, TerraformError
from app.models import InfraRun, RunStatus
from app.queue import JOBS, job_queue
from app.services import infra, runs
from jobs.common import job_context
from tests.infra.conftest import run_burst_worker
from tests.infra.test_serving_state import finish_run

# what the job's work raises -> whether the job raises it on (RQ records a failure)
OUTCOMES: dict[str, tuple[Exception | None, bool]] = {
    "done": (None, False),
    "not live": (runs.RunNotLive("run 1 is already errored"), False),
    "workspace busy": (runs.WorkspaceBusy("clients/x/y", retry_in=30), False),
    "lock lost": (TerraformAborted("apply", "the lock of workspace x was lost"), False),
    "stale plan": (runs.StalePlan("the state moved"), False),
    "terraform failed": (TerraformError("plan", 1, "terraform plan failed: bad HCL"), True),
    "bug": (RuntimeError("boom"), True),
}


@pytest.fixture
def post_runs() -> Iterator[list[int]]:
    """The ids of the runs ``post_deploy_default_api`` was sent for."""
    sent: list[int] = []

    def receiver(sender: str, *, run: InfraRun, **kwargs: object) -> None:
        sent.append(run.id)

    signals.post_deploy_default_api.connect(receiver)
    yield sent
    signals.post_deploy_default_api.disconnect(receiver)


def stored(run_id: int) -> InfraRun:
    db.session.expire_all()
    found = db.session.get(InfraRun, run_id)
    assert found is not None
    return found


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_post_signal_on_every_path(infra_app, account, make_client, post_runs, outcome):
    run = infra.request_deploy(make_client(account, "signalled", deployed=False))
    error, raised = OUTCOMES[outcome]
    expect = pytest.raises(type(error)) if raised and error else contextlib.nullcontext()
    with expect, job_context("deploy_default_api", run, client_id=run.client_id):
        if error is not None:
            raise error
    assert post_runs == [run.id]


def test_a_replayed_job_whose_run_is_not_live_sends_its_post_signal(
    infra_app, account, make_client, post_runs
):
    client = make_client(account, "replayed", deployed=False)
    old = infra.request_deploy(client)
    finish_run(old, RunStatus.ERRORED, error="its worker was killed")
    # RQ runs the abandoned job again: it does nothing, and says so to the receivers.
    job_queue().enqueue(JOBS["deploy"], client.id, old.id, job_id=old.rq_job_id)
    run_burst_worker(infra_app)
    assert "nothing to do: run" in stored(old.id).log
    assert post_runs and set(post_runs) == {old.id}  # once per job that ran for it
