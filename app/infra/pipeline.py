"""The steps every infrastructure job shares: render, lock, init, plan, review, apply.

Jobs (``jobs/``) are thin: they send signals and decide about retries; this module
moves a run through its statuses and keeps the client's status in step.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from app.config import Settings, current_settings
from app.extensions import db
from app.hosts import default_host
from app.infra import kubernetes, remote_state
from app.infra.locks import WorkspaceLock
from app.infra.plan_summary import PlanSummary, summarize_plan
from app.infra.render import (
    ClientWorkspaceSpec,
    DomainWorkspaceSpec,
    RenderedWorkspace,
    render_client_workspace,
    render_domain_workspace,
)
from app.infra.run_log import RunLog
from app.infra.terraform import TerraformError, TerraformRunner
from app.logging_setup import get_logger
from app.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    DeploymentStatus,
    InfraRun,
    LlmClient,
    ResourceStatus,
    RunKind,
    RunStatus,
    StoredPlan,
)
from app.models.common import utcnow
from app.queue import redis_connection

client_log = get_logger("chatdock.clients")
DOMAIN_KEY_PREFIX = "domains/"


class StalePlan(Exception):
    """The saved plan no longer matches the configuration or the state."""


class RunNotLive(Exception):
    """The job's run is final, superseded by a later run, or carried by another job:
    the job does nothing (an abandoned job that RQ runs again must not revert later
    work)."""


# The workspace lock of the run this job works on: terraform stops when it is lost.
_current_lock: contextvars.ContextVar[WorkspaceLock | None] = contextvars.ContextVar(
    "workspace_lock", default=None
)


def workspaces_dir(settings: Settings | None = None) -> Path:
    settings = settings or current_settings()
    return Path(settings.WORKSPACES_DIR or os.path.join(current_app.instance_path, "workspaces"))


def client_workspace_key(account_number: str, client_name: str) -> str:
    return f"clients/{account_number}/{client_name}"


def domain_workspace_key(account_number: str, domain: str) -> str:
    return f"{DOMAIN_KEY_PREFIX}{account_number}/{domain}"


def is_domain_run(run: InfraRun) -> bool:
    return run.workspace_key.startswith(DOMAIN_KEY_PREFIX)


def client_spec(
    account_number: str,
    client_name: str,
    customer_api_domain: str | None = None,
    custom_hosts: tuple[tuple[str, str], ...] = (),
) -> ClientWorkspaceSpec:
    """The workspace spec from settings; a deleted client's own domain may differ."""
    settings = current_settings()
    if customer_api_domain and customer_api_domain != settings.CUSTOMER_API_DOMAIN:
        settings = settings.model_copy(update={"CUSTOMER_API_DOMAIN": customer_api_domain})
    return ClientWorkspaceSpec.from_settings(settings, account_number, client_name, custom_hosts)


def custom_hosts_of(client: LlmClient | None) -> tuple[tuple[str, str], ...]:
    """(zone id, host) of the client on its custom domain, once that domain was verified."""
    domain = client.custom_domain if client is not None else None
    if client is None or domain is None or not domain.ever_verified or not domain.zone_id:
        return ()
    return ((domain.zone_id, f"{client.name}.{domain.domain}"),)


def render_for_run(run: InfraRun, *, dry_run: bool = False) -> RenderedWorkspace:
    """Render the run's workspace (``dry_run``: only compute its path and hash)."""
    if is_domain_run(run):
        spec = DomainWorkspaceSpec.from_settings(
            current_settings(), run.account_number, run.target_name
        )
        return render_domain_workspace(spec, workspaces_dir(), dry_run=dry_run)
    client_workspace = client_spec(
        run.account_number, run.target_name, custom_hosts=custom_hosts_of(client_of(run))
    )
    if not dry_run:
        run.hosts = [client_workspace.default_host, *(h for _, h in client_workspace.custom_hosts)]
    return render_client_workspace(client_workspace, workspaces_dir(), dry_run=dry_run)


def client_api_url(client: LlmClient) -> str:
    host = default_host(
        client.name, client.account.account_number, current_settings().CUSTOMER_API_DOMAIN
    )
    return f"https://{host}/llm-client/"


def aws_env(settings: Settings) -> dict[str, str]:
    """The standard AWS environment for the provider (boto3 reads the same variables)."""
    env = {"AWS_REGION": settings.AWS_REGION, "AWS_DEFAULT_REGION": settings.AWS_REGION}
    if settings.AWS_ENDPOINT_URL:
        env["AWS_ENDPOINT_URL"] = settings.AWS_ENDPOINT_URL
    if settings.AWS_MAX_ATTEMPTS:
        env["AWS_MAX_ATTEMPTS"] = str(settings.AWS_MAX_ATTEMPTS)
    return env


def runner_for(path: Path, log: RunLog) -> TerraformRunner:
    """A runner that stops terraform as soon as the job's workspace lock is lost."""
    settings = current_settings()
    lock = _current_lock.get()
    return TerraformRunner(
        path,
        binary=settings.TF_BINARY,
        plugin_dir=settings.TF_PLUGIN_DIR,
        timeout=settings.TF_TIMEOUT_SECONDS,
        env=aws_env(settings),
        log=log,
        abort=lock.lost_reason if lock is not None else None,
    )


@contextlib.contextmanager
def locked_workspace(run: InfraRun, log: RunLog, *, approved: bool = False) -> Iterator[None]:
    """Hold the workspace's lock (waiting for a run in progress to finish first), and go
    on only while ``run`` is still the live run of its workspace (see ``ensure_live``).

    ``approved``: the job applies an approved plan (``apply_run``)."""
    settings = current_settings()
    lock = WorkspaceLock(
        redis_connection(settings), run.workspace_key, ttl=settings.LOCK_TTL_SECONDS
    )
    log(f"waiting for the lock of {run.workspace_key}")
    lock.acquire(wait_timeout=settings.JOB_TIMEOUT_SECONDS)
    token = _current_lock.set(lock)
    try:
        log("lock acquired")
        _fail_abandoned_runs(run, log)
        ensure_live(run, log, approved=approved)
        yield
    finally:
        _current_lock.reset(token)
        lock.release()


def ensure_live(run: InfraRun, log: RunLog, *, approved: bool = False) -> None:
    """Raise RunNotLive unless this job may work on ``run``: the run is queued (a run
    found in progress under our lock was abandoned by a dead worker), approved when the
    job applies, carried by this very job, and no later run of its workspace exists (a
    later request supersedes it: the run is discarded)."""
    db.session.refresh(run)
    current = current_job_id()
    if current is not None and run.rq_job_id not in (None, current):
        raise RunNotLive(f"run {run.id} is carried by job {run.rq_job_id}, not {current}")
    if run.is_final:
        raise RunNotLive(f"run {run.id} is already {run.status.value}")
    if run.status in ACTIVE_STATUSES - {RunStatus.QUEUED}:
        log(f"run {run.id} was left {run.status.value} by a worker that stopped: marked errored")
        set_status(run, RunStatus.ERRORED, error=ABANDONED)
        sync_client_status(run)
        raise RunNotLive(f"run {run.id} was abandoned by its worker")
    if run.status != RunStatus.QUEUED or (approved and run.approved_at is None):
        raise RunNotLive(f"run {run.id} is {run.status.value}, not queued for this job")
    later = db.session.execute(
        select(InfraRun.id)
        .where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.id > run.id,
            InfraRun.kind != RunKind.PLAN,
        )
        .order_by(InfraRun.id)
        .limit(1)
    ).scalar_one_or_none()
    if later is not None:
        set_status(run, RunStatus.DISCARDED, error=f"superseded by run {later}")
        sync_client_status(run)
        raise RunNotLive(f"run {run.id} is superseded by run {later}")
    run.attempts += 1
    db.session.commit()
    log(f"attempt {run.attempts} of run {run.id}")


def current_job_id() -> str | None:
    """The RQ job this process works on, if any."""
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else None


ABANDONED = "the worker running this run stopped (its workspace lock expired)"


def _fail_abandoned_runs(run: InfraRun, log: RunLog) -> None:
    """Runs left 'in progress' by a worker that died: we hold the lock, so nobody runs them."""
    abandoned = db.session.execute(
        select(InfraRun).where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.id != run.id,
            InfraRun.status.in_(ACTIVE_STATUSES - {RunStatus.QUEUED}),
        )
    ).scalars()
    for other in abandoned:
        other.status = RunStatus.ERRORED
        other.error = ABANDONED
        other.finished_at = utcnow()
        drop_stored_plans(other)
        log(f"marked run {other.id} errored: its worker stopped")
        sync_client_status(other)
    db.session.commit()


def set_status(run: InfraRun, status: RunStatus, **fields: Any) -> None:
    """Move the run, and its client with it, in one commit: whoever sees the run's new
    status sees the client's too."""
    run.status = status
    for key, value in fields.items():
        setattr(run, key, value)
    if status in FINAL_STATUSES:
        run.finished_at = utcnow()
        drop_stored_plans(run)
    sync_client_status(run, commit=False)
    db.session.commit()


def last_applied_config(run: InfraRun) -> InfraRun | None:
    """The latest run that changed (or may have changed) this workspace, if it was a
    successful deploy. An apply that errored part-way counts as a change: after it, the
    real infrastructure may match neither configuration, so terraform must run."""
    latest = db.session.execute(
        select(InfraRun)
        .where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.kind != RunKind.PLAN,
            InfraRun.id != run.id,
            (InfraRun.status.in_([RunStatus.APPLIED, RunStatus.DESTROYED]))
            | ((InfraRun.status == RunStatus.ERRORED) & InfraRun.apply_started_at.is_not(None)),
        )
        .order_by(InfraRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return latest if latest is not None and latest.status == RunStatus.APPLIED else None


@dataclass
class PlanResult:
    summary: PlanSummary
    approved: bool


def auto_approves(run: InfraRun, summary: PlanSummary) -> bool:
    policy = "always" if run.auto_approve else current_settings().AUTO_APPROVE
    if policy == "always":
        return True
    if policy == "creates_only":
        return run.kind == RunKind.APPLY and summary.only_creates
    return False


def plan(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> PlanResult:
    """init + plan into a saved plan file + summary; the run is then awaiting approval
    unless the auto-approve policy says otherwise."""
    set_status(run, RunStatus.PLANNING, started_at=run.started_at or utcnow())
    clear_stale_state_lock(workspace, log)
    runner = runner_for(workspace.path, log)
    runner.init()
    plan_name = f"run-{run.id}.tfplan"
    runner.plan(out=plan_name, destroy=run.kind == RunKind.DESTROY)
    show = runner.show_json(plan_name)
    summary = summarize_plan(show)
    log.flush()
    run.plan_summary = summary.to_dict()
    run.plan_text = summary.text()
    store_plan(run, workspace, plan_name)
    run.config_hash = workspace.config_hash
    run.planned_at = utcnow()
    approved = auto_approves(run, summary) or summary.no_changes
    if approved and not summary.no_changes:
        run.approved_by = run.approved_by or "auto-approve"
        run.approved_at = utcnow()
    set_status(run, RunStatus.AWAITING_APPROVAL)
    return PlanResult(summary=summary, approved=approved)


def store_plan(run: InfraRun, workspace: RenderedWorkspace, plan_name: str) -> None:
    """Keep the plan file just written in the database (replacing the run's earlier one),
    with its hash on the run: the worker that applies it may be on another machine.
    Committed with the run's next status."""
    data = (workspace.path / plan_name).read_bytes()
    drop_stored_plans(run)
    digest = hashlib.sha256(data).hexdigest()
    db.session.add(StoredPlan(run_id=run.id, name=plan_name, sha256=digest, data=data))
    run.plan_file = plan_name
    run.plan_file_hash = digest


def drop_stored_plans(run: InfraRun) -> None:
    """A final run's plan can never be applied: it goes (in the caller's transaction)."""
    db.session.execute(delete(StoredPlan).where(StoredPlan.run_id == run.id))


def stored_plan(run: InfraRun) -> StoredPlan | None:
    if not run.plan_file:
        return None
    return db.session.execute(
        select(StoredPlan).where(StoredPlan.run_id == run.id, StoredPlan.name == run.plan_file)
    ).scalar_one_or_none()


def check_not_stale(run: InfraRun, workspace: RenderedWorkspace) -> None:
    """Refuse a plan whose configuration (rendered afresh) changed, whose stored file is
    gone or differs from what was reviewed, or that a later apply overtook."""
    if run.config_hash != workspace.config_hash:
        raise StalePlan("the configuration changed since this plan was made")
    saved = stored_plan(run)
    if saved is None:
        raise StalePlan("the saved plan file is gone")
    if hashlib.sha256(saved.data).hexdigest() != run.plan_file_hash:
        raise StalePlan("the saved plan file changed")
    later = db.session.execute(
        select(InfraRun.id).where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.id != run.id,
            InfraRun.status.in_([RunStatus.APPLIED, RunStatus.DESTROYED]),
            InfraRun.finished_at > run.planned_at,
        )
    ).first()
    if later is not None:
        raise StalePlan(f"run {later[0]} changed the infrastructure since this plan was made")


def apply(
    run: InfraRun,
    workspace: RenderedWorkspace,
    log: RunLog,
    before_done: Callable[[], None] | None = None,
) -> bool:
    """Apply exactly the saved plan of ``run``. False when a retry found that it must be
    reviewed again (the run is then awaiting approval with a new plan).

    ``before_done`` runs after terraform succeeded and before the run is marked done, so
    whoever waits for the run sees what it records (e.g. a zone's name servers)."""
    check_not_stale(run, workspace)
    busy = RunStatus.DESTROYING if run.kind == RunKind.DESTROY else RunStatus.APPLYING
    set_status(run, busy)
    summary = PlanSummary.from_dict(run.plan_summary or {})
    if not summary.no_changes:
        restore_plan(run, workspace, log)
        if run.apply_started_at is not None and not _replan_after_failed_apply(
            run, workspace, summary, log
        ):
            return False
        run.apply_started_at = run.apply_started_at or utcnow()
        db.session.commit()
        try:
            runner_for(workspace.path, log).apply(run.plan_file or "")
        except TerraformError as error:
            if error.stale_plan:  # terraform's own check: the state moved since the plan
                raise StalePlan(str(error)) from error
            raise
    log.flush()
    if before_done is not None:
        before_done()
    done = RunStatus.DESTROYED if run.kind == RunKind.DESTROY else RunStatus.APPLIED
    set_status(run, done)
    _remove_plan_file(workspace, run)
    return True


def restore_plan(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """Put the reviewed plan file into this worker's workspace (its folder is only a
    cache: it may be new, or wiped since the plan) and ``terraform init`` it when it was
    never initialised here (the S3 backend brings the state)."""
    saved = stored_plan(run)
    if saved is None:  # checked just before, under the lock: only a bug gets here
        raise StalePlan("the saved plan file is gone")
    path = workspace.path / saved.name
    if not path.exists() or path.read_bytes() != saved.data:
        path.write_bytes(saved.data)
    clear_stale_state_lock(workspace, log)
    if not (workspace.path / ".terraform").is_dir():
        log("workspace not initialised on this worker: terraform init")
        runner_for(workspace.path, log).init()


def clear_stale_state_lock(workspace: RenderedWorkspace, log: RunLog) -> None:
    """We hold the workspace lock, so a state lock file still in S3 belongs to a terraform
    that died with its worker (SIGKILL, a lost machine): left there, it would block every
    later run of the workspace."""
    removed = remote_state.clear_stale_lock(current_settings(), workspace.state_key)
    if removed is not None:
        log(f"removed the state lock file of a terraform that stopped: {removed}")


def plan_then_apply_if_approved(
    run: InfraRun,
    workspace: RenderedWorkspace,
    log: RunLog,
    before_done: Callable[[], None] | None = None,
) -> None:
    """Plan; apply at once when approved (policy or nothing to change), else leave the
    run awaiting review."""
    if plan(run, workspace, log).approved:
        apply(run, workspace, log, before_done)
    else:
        log(f"plan saved: awaiting approval (flask infra approve {run.id})")


def _change_set(summary: PlanSummary) -> dict[str, str]:
    return {c.address: c.action for c in summary.changes if c.action not in ("no-op", "read")}


def _replan_after_failed_apply(
    run: InfraRun, workspace: RenderedWorkspace, approved: PlanSummary, log: RunLog
) -> bool:
    """An earlier attempt of this apply failed part-way, so the state moved and the saved
    plan is stale. Plan again: apply it when it only finishes what was approved (the same
    resources, a create possibly become a replace of the half-made resource); otherwise
    the new plan goes back to review."""
    log("an earlier apply attempt failed part-way: planning again")
    runner = runner_for(workspace.path, log)
    plan_name = f"run-{run.id}-retry-{run.attempts}.tfplan"
    runner.plan(out=plan_name, destroy=run.kind == RunKind.DESTROY)
    fresh = summarize_plan(runner.show_json(plan_name))
    approved_changes, new_changes = _change_set(approved), _change_set(fresh)
    within = all(
        address in approved_changes
        and (action == approved_changes[address] or approved_changes[address] == "create")
        for address, action in new_changes.items()
    )
    _remove_plan_file(workspace, run)
    store_plan(run, workspace, plan_name)
    run.planned_at = utcnow()
    if within:
        log("the new plan only finishes the approved changes: applying it")
        db.session.commit()
        return True
    log("the new plan differs from the approved one: it needs a new review")
    run.plan_summary = fresh.to_dict()
    run.plan_text = fresh.text()
    run.approved_at = None
    run.approved_by = None
    run.apply_started_at = None
    set_status(run, RunStatus.AWAITING_APPROVAL)
    return False


def _remove_plan_file(workspace: RenderedWorkspace, run: InfraRun) -> None:
    if run.plan_file:
        (workspace.path / run.plan_file).unlink(missing_ok=True)


def remove_workspace(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def forget_workspace(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """After ``run`` destroyed a deleted client or domain: nothing of its workspace stays,
    neither this worker's cached folder, nor the state object (and lock file) in S3, nor
    a plan of an earlier run still awaiting review (discarded: there is nothing left to
    apply it to). The run's own stored plan goes when it is marked destroyed."""
    remove_workspace(workspace.path)
    log(f"workspace {workspace.path} removed")
    for key in remote_state.delete_state(current_settings(), workspace.state_key):
        log(f"state object {key} deleted")
    pending = db.session.execute(
        select(InfraRun).where(
            InfraRun.workspace_key == run.workspace_key,
            InfraRun.id < run.id,
            InfraRun.status.not_in(FINAL_STATUSES),
        )
    ).scalars()
    for other in list(pending):
        log(f"run {other.id} discarded: its workspace is deleted")
        set_status(other, RunStatus.DISCARDED, error=f"superseded by run {run.id} (deleted)")


# --- the client's status follows its runs ---------------------------------------------


def client_of(run: InfraRun) -> LlmClient | None:
    return db.session.get(LlmClient, run.client_id) if run.client_id else None


def is_latest_run(run: InfraRun) -> bool:
    """No later run of the client exists (a later run decides the client's state)."""
    later = db.session.execute(
        select(InfraRun.id).where(InfraRun.client_id == run.client_id, InfraRun.id > run.id)
    ).first()
    return later is None


def sync_client_status(run: InfraRun, *, commit: bool = True) -> None:
    """Serving follows what was applied, and nothing else.

    An applied deploy serves the hosts it created; a destroy ends serving (which the
    request already stopped); a first deploy that errored or was discarded leaves the
    client a draft. A change of a live client that is pending, errored or discarded
    changes nothing: the client keeps answering on the hosts of its last apply. A failed
    undeploy stays ``undeploying`` (not served: removal fails closed)."""
    client = client_of(run)
    if client is None:
        return
    settings = current_settings()
    before = client.deployment_status
    if run.status == RunStatus.APPLIED and run.kind == RunKind.APPLY:
        client.deployment_status = DeploymentStatus.DEPLOYED
        client.dns_status = ResourceStatus.READY
        client.tls_status = (
            kubernetes.client_tls_status(
                settings.KUBERNETES_NAMESPACE, run.account_number, client.name
            )
            if settings.KUBERNETES_ENABLED
            else ResourceStatus.UNMANAGED
        )
        client.deployed_at = client.deployed_at or utcnow()
        if run.hosts:
            client.live_hosts = list(run.hosts)
    elif run.status == RunStatus.DESTROYED:
        client.deployment_status = DeploymentStatus.DRAFT
        client.dns_status = ResourceStatus.NONE
        client.tls_status = ResourceStatus.NONE
        client.deployed_at = None
        client.live_hosts = []
    elif (
        run.status in (RunStatus.ERRORED, RunStatus.DISCARDED)
        and run.kind == RunKind.APPLY
        and client.deployment_status == DeploymentStatus.DEPLOYING
        and is_latest_run(run)
    ):
        client.deployment_status = DeploymentStatus.DRAFT
    if commit:
        db.session.commit()
    if settings.LOG_CLIENTS and client.deployment_status != before:
        client_log.info(
            "client_status",
            client_id=client.id,
            client=client.name,
            account=run.account_number,
            status=client.deployment_status.value,
            previous=before.value,
            run_id=run.id,
        )
