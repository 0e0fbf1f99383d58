"""Runs and plan review: the list, one run's plan grouped by action with each
resource's attribute changes, the raw plan text and the log (refreshing while the run
is live), approve and discard (a stale plan is refused with the reason)."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import attempt, get_or_404, operator
from app.blueprints.admin.forms import ActionForm
from app.infra.plan_summary import PlanSummary, ResourceChange
from app.models import ACTIVE_STATUSES, InfraRun, RunStatus
from app.names import is_ascii_digits
from app.services import access, infra, paging
from app.services.customer_log import shown_log

REVIEW_GROUPS = ("create", "update", "replace", "delete")
RUNS_PER_PAGE = 100
MAX_PAGE = 1_000_000


def grouped_changes(run: InfraRun) -> dict[str, list[ResourceChange]]:
    """The plan's resource changes by action, in review order (empty groups dropped)."""
    if not run.plan_summary:
        return {}
    summary = PlanSummary.from_dict(run.plan_summary)
    groups: dict[str, list[ResourceChange]] = {action: [] for action in REVIEW_GROUPS}
    for change in summary.changes:
        if change.action in groups:
            groups[change.action].append(change)
    return {action: changes for action, changes in groups.items() if changes}


def is_live(run: InfraRun) -> bool:
    return run.status in ACTIVE_STATUSES or (
        run.status == RunStatus.AWAITING_APPROVAL and run.approved_at is not None
    )


@bp.get("/runs")
def runs() -> ResponseReturnValue:
    """The runs of the signed-in user's accounts, newest first, a page at a time (SQL)."""
    status = request.args.get("status", "")
    wanted = RunStatus(status) if status in {s.value for s in RunStatus} else None
    asked = request.args.get("page", "")
    number = min(max(int(asked), 1), MAX_PAGE) if is_ascii_digits(asked) else 1
    visible = access.visible_account_ids_query(current_user)
    query = infra.runs_query(status=wanted, account_ids=visible)
    page = paging.page_of(query, number, RUNS_PER_PAGE)
    return render_template(
        "admin/runs.html",
        runs=page.items,
        page=page,
        status=status,
        statuses=[s.value for s in RunStatus],
    )


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> ResponseReturnValue:
    found = get_or_404(InfraRun, run_id)
    summary = PlanSummary.from_dict(found.plan_summary) if found.plan_summary else None
    return render_template(
        "admin/run.html",
        run=found,
        summary=summary,
        groups=grouped_changes(found),
        live=is_live(found),
        log=shown_log(found.log, current_user),
        action_form=ActionForm(),
    )


@bp.get("/runs/<int:run_id>/state.json")
def run_state(run_id: int) -> ResponseReturnValue:
    """What the run page polls while the run is live."""
    found = get_or_404(InfraRun, run_id)
    return jsonify(
        status=found.status.value, live=is_live(found), log=shown_log(found.log, current_user)
    )


@bp.post("/runs/<int:run_id>/approve")
def run_approve(run_id: int) -> ResponseReturnValue:
    get_or_404(InfraRun, run_id)
    access.require_platform_admin(current_user, "approve plans")
    if ActionForm().validate_on_submit():
        attempt(
            lambda: infra.approve_run(run_id, approved_by=operator()),
            "Approved: applying exactly this plan.",
        )
    return redirect(url_for("admin.run", run_id=run_id))


@bp.post("/runs/<int:run_id>/discard")
def run_discard(run_id: int) -> ResponseReturnValue:
    get_or_404(InfraRun, run_id)
    if ActionForm().validate_on_submit():
        attempt(lambda: infra.discard_run(run_id), "Plan discarded.")
    return redirect(url_for("admin.run", run_id=run_id))
