"""Run orchestration: the steps every infrastructure job shares (render, lock, plan,
review, apply) and the run's status with its client's state. Jobs (``jobs/``) are thin:
they call these and decide about retries.

- ``workspace``: workspace keys, rendering a run's workspace, the terraform runner;
- ``liveness``: the workspace lock and the checks that a job works on its own live run;
- ``status``: a run's status and its client's serving state, in one commit;
- ``steps``: plan, staleness checks, apply;
- ``log``: a run's log, written to its row as it comes.
"""

from app.services.runs.liveness import (
    ABANDONED,
    RunNotLive,
    WorkspaceBusy,
    current_job_id,
    ensure_live,
    locked_workspace,
    mark_abandoned,
)
from app.services.runs.log import run_log
from app.services.runs.status import (
    client_log,
    client_of,
    drop_stored_plans,
    is_latest_run,
    last_applied_config,
    set_status,
    sync_client_status,
)
from app.services.runs.steps import (
    PlanResult,
    StalePlan,
    applied_if_unchanged,
    apply,
    auto_approves,
    check_not_stale,
    forget_workspace,
    plan,
    plan_then_apply_if_approved,
    restore_plan,
    store_plan,
    stored_plan,
)
from app.services.runs.workspace import (
    DOMAIN_KEY_PREFIX,
    ROUTING_KEY_PREFIX,
    aws_env,
    clear_stale_state_lock,
    client_api_url,
    client_spec,
    client_workspace_key,
    custom_hosts_of,
    domain_workspace_key,
    is_domain_run,
    is_routing_run,
    remove_workspace,
    render_for_run,
    render_routing_hash,
    routing_spec,
    routing_workspace_key,
    runner_for,
    workspaces_dir,
)

__all__ = [
    "ABANDONED",
    "DOMAIN_KEY_PREFIX",
    "ROUTING_KEY_PREFIX",
    "PlanResult",
    "RunNotLive",
    "StalePlan",
    "WorkspaceBusy",
    "applied_if_unchanged",
    "apply",
    "auto_approves",
    "aws_env",
    "check_not_stale",
    "clear_stale_state_lock",
    "client_api_url",
    "client_log",
    "client_of",
    "client_spec",
    "client_workspace_key",
    "current_job_id",
    "custom_hosts_of",
    "domain_workspace_key",
    "drop_stored_plans",
    "ensure_live",
    "forget_workspace",
    "is_domain_run",
    "is_latest_run",
    "is_routing_run",
    "last_applied_config",
    "locked_workspace",
    "mark_abandoned",
    "plan",
    "plan_then_apply_if_approved",
    "remove_workspace",
    "render_for_run",
    "render_routing_hash",
    "restore_plan",
    "routing_spec",
    "routing_workspace_key",
    "run_log",
    "runner_for",
    "set_status",
    "store_plan",
    "stored_plan",
    "sync_client_status",
    "workspaces_dir",
]
