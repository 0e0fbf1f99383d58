"""The steps of a run: plan (with the auto-approve policy), the staleness checks, apply
(with a re-plan after a failed attempt)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.infra import remote_state
from app.infra.plan_summary import PlanSummary, summarize_plan
from app.infra.render import (
    RenderedWorkspace,
)
from app.infra.run_log import RunLog
from app.infra.terraform import TerraformError
from app.models import (
    FINAL_STATUSES,
    InfraRun,
    RunKind,
    RunStatus,
    StoredPlan,
)
from app.models.common import utcnow
from app.services.runs.status import drop_stored_plans, last_applied_config, set_status
from app.services.runs.workspace import clear_stale_state_lock, remove_workspace, runner_for


class StalePlan(Exception):
    """The saved plan no longer matches the configuration or the state."""


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
    runner.init(workspace.state_location)
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
        runner_for(workspace.path, log).init(workspace.state_location)


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


def applied_if_unchanged(
    run: InfraRun, workspace: RenderedWorkspace, log: RunLog, hint: str = ""
) -> bool:
    """Mark ``run`` applied without terraform when its workspace's configuration is the
    one the last apply left (True); ``hint`` ends the run's note."""
    previous = last_applied_config(run)
    if previous is None or previous.config_hash != workspace.config_hash:
        return False
    log(f"configuration unchanged since run {previous.id}: terraform not run")
    set_status(
        run,
        RunStatus.APPLIED,
        config_hash=workspace.config_hash,
        note=f"unchanged since run {previous.id}{hint}",
    )
    return True
