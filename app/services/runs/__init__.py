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
    back_to_review,
    client_log,
    client_of,
    client_tls_status,
    current_client,
    drop_stored_plans,
    fail_run,
    is_latest_run,
    last_applied_config,
    load_run,
    reread,
    set_status,
    sync_client_status,
)
from app.services.runs.steps import (
    PlanResult,
    StalePlan,
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
    aws_env,
    clear_stale_state_lock,
    client_api_url,
    client_spec,
    client_workspace_key,
    custom_hosts_of,
    domain_workspace_key,
    is_domain_run,
    remove_workspace,
    render_for_run,
    runner_for,
    workspaces_dir,
)

__all__ = [
    "ABANDONED",
    "DOMAIN_KEY_PREFIX",
    "PlanResult",
    "RunNotLive",
    "StalePlan",
    "WorkspaceBusy",
    "apply",
    "auto_approves",
    "aws_env",
    "back_to_review",
    "check_not_stale",
    "clear_stale_state_lock",
    "client_api_url",
    "client_log",
    "client_of",
    "client_spec",
    "client_tls_status",
    "client_workspace_key",
    "current_client",
    "current_job_id",
    "custom_hosts_of",
    "domain_workspace_key",
    "drop_stored_plans",
    "ensure_live",
    "fail_run",
    "forget_workspace",
    "is_domain_run",
    "is_latest_run",
    "last_applied_config",
    "load_run",
    "locked_workspace",
    "mark_abandoned",
    "plan",
    "plan_then_apply_if_approved",
    "remove_workspace",
    "render_for_run",
    "reread",
    "restore_plan",
    "run_log",
    "runner_for",
    "set_status",
    "store_plan",
    "stored_plan",
    "sync_client_status",
    "workspaces_dir",
]
