"""What redeploying an unchanged, already applied client costs, against its first deploy.

On fresh servers (PostgreSQL, redis-server, moto with the hosted zone, one real
``python -m flask worker``): deploy one client with real terraform (first deploy), then
request deploys of the unchanged client again (redeploys: ``deploy_default_api`` should
see the rendered configuration's hash equal the last successful apply's and skip
terraform), then one with ``drift_check=True`` (terraform init + plan, no apply as
nothing changed). Each is timed from ``request_deploy`` until the run is final, polling
the database every 20 ms. Aim: a redeploy takes < 10% of the first deploy.

Run: ``.venv/bin/python bench/redeploy.py [--redeploys 3]``

Exit status 0 when every run was applied, the redeploys skipped terraform, the drift
check ran it and moto holds exactly the client's A record; 1 otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from common import (
    CUSTOMER_DOMAIN,
    InfraStack,
    RunRecord,
    create_draft_clients,
    infra_stack,
    migrated_app,
    print_table,
    route53_a_records,
    run,
    run_failure_text,
    seconds_between,
    wait_for_runs,
    warm_terraform_provider,
    worker_processes,
)

from app.extensions import db
from app.hosts import default_host
from app.models import LlmClient, RunStatus
from app.services import infra

AIM_FRACTION = 0.10
POLL_SECONDS = 0.02


@dataclass
class Timed:
    """One deploy request and its run."""

    label: str
    wall: float
    run: RunRecord

    @property
    def db_seconds(self) -> float | None:
        """created_at -> finished_at as the worker recorded them."""
        return seconds_between(self.run.created_at, self.run.finished_at)

    @property
    def terraform_commands(self) -> list[str]:
        """The terraform commands of the run, from its log (``$ terraform init ...``)."""
        return [
            line.split("$ terraform ", 1)[1].split(" ", 1)[0]
            for line in self.run.log.splitlines()
            if "$ terraform " in line
        ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="First deploy vs redeploy of an unchanged client vs a drift check "
        f"(real terraform against moto, one flask worker). Aim: redeploy < "
        f"{AIM_FRACTION:.0%} of the first deploy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--redeploys", type=int, default=3, help="timed unchanged redeploys")
    parser.add_argument("--timeout", type=float, default=300.0, help="most seconds per run")
    args = parser.parse_args(argv)
    if args.redeploys < 1:
        parser.error("--redeploys must be positive")
    return args


def timed_deploy(
    label: str, client_id: int, timeout: float, workers: Sequence, *, drift_check: bool = False
) -> Timed:
    """request_deploy(auto_approve=True) and wait for the run; wall time of both."""
    started = time.monotonic()
    run_id = infra.request_deploy(
        db.session.get(LlmClient, client_id), auto_approve=True, drift_check=drift_check
    ).id
    (finished,) = wait_for_runs([run_id], timeout, workers, poll=POLL_SECONDS)
    return Timed(label, time.monotonic() - started, finished)


def measure(args: argparse.Namespace, stack: InfraStack) -> tuple[list[Timed], list[str], str]:
    """The timed deploys, the zone's A records afterwards, and the client's host."""
    app = migrated_app(stack.database_url, **stack.overrides())
    with app.app_context():
        (client_id,) = create_draft_clients(1)
        client = db.session.get(LlmClient, client_id)
        host = default_host(client.name, client.account.account_number, CUSTOMER_DOMAIN)
        timed: list[Timed] = []
        with worker_processes(stack, 1) as workers:
            print("First deploy (terraform init, plan, apply)...", flush=True)
            timed.append(timed_deploy("first deploy", client_id, args.timeout, workers))
            for i in range(1, args.redeploys + 1):
                print(f"Redeploy {i}/{args.redeploys} of the unchanged client...", flush=True)
                timed.append(timed_deploy(f"redeploy {i}", client_id, args.timeout, workers))
            print("Redeploy with drift_check=True (terraform init, plan, show)...", flush=True)
            timed.append(
                timed_deploy("drift check", client_id, args.timeout, workers, drift_check=True)
            )
            print("Redeploy after the drift check...", flush=True)
            timed.append(timed_deploy("redeploy after", client_id, args.timeout, workers))
        db.session.remove()
        db.engine.dispose()
    return timed, route53_a_records(stack), host


def fmt(seconds: float | None, digits: int = 2) -> str:
    return "-" if seconds is None else f"{seconds:.{digits}f}"


def report(timed: Sequence[Timed], records: list[str], host: str) -> bool:
    """Print the table, ratios and checks; True when every check passed."""
    first, drift = timed[0], timed[-2]
    redeploys = [t for t in timed if t.label.startswith("redeploy")]
    print()
    print(
        "One client, one `python -m flask worker` (RQ SimpleWorker); real terraform 1.x "
        "against moto's Route53; wall = request_deploy until the run is final (20 ms poll); "
        "db = the run's created_at -> finished_at."
    )
    print()
    rows = []
    for t in timed:
        plan = seconds_between(t.run.started_at, t.run.planned_at)
        rows.append(
            [
                t.label,
                t.run.status.value,
                fmt(t.wall, 3),
                fmt(t.db_seconds, 3),
                fmt(plan, 1),
                " ".join(t.terraform_commands) or "(none)",
                t.run.note[:40] or "-",
            ]
        )
    print_table(
        ["deploy", "status", "wall s", "db s", "init+plan+show s", "terraform", "note"], rows
    )
    best_redeploy = min(t.wall for t in redeploys)
    median_redeploy = statistics.median(t.wall for t in redeploys)
    ratio = median_redeploy / first.wall
    first_plan = seconds_between(first.run.started_at, first.run.planned_at)
    print()
    print(
        f"Redeploy / first deploy: {ratio:.4f} (median redeploy {median_redeploy * 1000:.0f} ms, "
        f"best {best_redeploy * 1000:.0f} ms, first {first.wall:.1f} s)"
    )
    print(
        f"Aim: redeploy < {AIM_FRACTION:.0%} of the first deploy -> "
        f"{'met' if ratio < AIM_FRACTION else 'NOT met'}"
    )
    if first_plan:
        print(
            f"Drift check / first deploy: {drift.wall / first.wall:.2f}; drift check "
            f"{drift.wall:.1f} s vs the first deploy's init+plan+show phase {first_plan:.1f} s "
            f"(ratio {drift.wall / first_plan:.2f})"
        )
    checks = {
        "every run applied": all(t.run.status == RunStatus.APPLIED for t in timed),
        "redeploys ran no terraform": all(not t.terraform_commands for t in redeploys),
        "drift check ran plan, no apply": "plan" in drift.terraform_commands
        and "apply" not in drift.terraform_commands,
        "moto has exactly the client's A record": records == [host],
    }
    print("Checks: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
    for t in timed:
        if t.run.status != RunStatus.APPLIED:
            print(run_failure_text(t.run))
    return all(checks.values())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print("Reading the terraform provider once (page cache)...", flush=True)
    warm_terraform_provider()
    print("Starting PostgreSQL, Redis, moto; migrating...", flush=True)
    with infra_stack() as stack:
        timed, records, host = measure(args, stack)
    return 0 if report(timed, records, host) else 1


if __name__ == "__main__":
    run(main)
