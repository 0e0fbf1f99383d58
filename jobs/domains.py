"""provision_domain: plan (review) and apply a custom domain's hosted zone;
destroy_domain: destroy it and forget the domain."""

from __future__ import annotations

from collections.abc import Callable

from app.extensions import db
from app.infra.render import RenderedWorkspace
from app.infra.run_log import RunLog
from app.models import CustomDomain, InfraRun, RunKind
from app.services import runs
from app.services.domain_checks import zone_ready
from jobs.common import job_context, load_run


def provision_domain(domain_id: int, run_id: int) -> str:
    run = load_run(run_id)
    with (
        job_context("provision_domain", run, domain_id=domain_id) as log,
        runs.locked_workspace(run, log),
    ):
        workspace = runs.render_for_run(run)
        log(f"rendered {workspace.path} (config {workspace.config_hash[:12]})")
        runs.plan_then_apply_if_approved(run, workspace, log, record_zone(run, workspace, log))
    return run.status.value


def destroy_domain(domain_id: int, run_id: int) -> str:
    run = load_run(run_id)
    with (
        job_context("destroy_domain", run, domain_id=domain_id) as log,
        runs.locked_workspace(run, log),
    ):
        workspace = runs.render_for_run(run)
        runs.plan(run, workspace, log)
        # The row goes before the run shows destroyed: whoever waits for it sees it gone.
        runs.apply(run, workspace, log, lambda: forget_domain(run, workspace, log))
    return run.status.value


def record_zone(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> Callable[[], None]:
    """The step after a domain's apply: read the zone from terraform's outputs, record
    it, and start checking the delegation (before the run shows as applied)."""

    def record() -> None:
        domain = db.session.get(CustomDomain, run.domain_id) if run.domain_id else None
        if domain is None:
            return
        outputs = runs.runner_for(workspace.path, log).output_json()
        zone_id = outputs["zone_id"]["value"]
        name_servers = outputs["name_servers"]["value"]
        log(f"zone {zone_id}: delegate {domain.domain} to {', '.join(name_servers)}")
        zone_ready(domain, zone_id, name_servers)

    return record


def forget_domain(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> None:
    """After a domain's destroy: drop its workspace (and its state) and its row."""
    runs.forget_workspace(run, workspace, log)
    domain = db.session.get(CustomDomain, run.domain_id) if run.domain_id else None
    if domain is not None:
        db.session.delete(domain)
        db.session.commit()
        log(f"custom domain {run.target_name} deleted")


def apply_domain_run(run: InfraRun, workspace: RenderedWorkspace, log: RunLog) -> bool:
    """Apply an approved domain run (from ``apply_run``) with its after-steps."""
    hook = record_zone(run, workspace, log) if run.kind == RunKind.APPLY else None
    return runs.apply(run, workspace, log, hook or (lambda: forget_domain(run, workspace, log)))
