"""How much more workers speed up deploying many clients with real terraform.

For each worker count (1, 2, then 4), on fresh servers (PostgreSQL, redis-server, moto
with the hosted zone of the customer API domain and the S3 bucket of the shared
Terraform state): create one account with ``--clients`` echo clients that are not
deployed, start that many real ``python -m flask worker`` processes (each with its own
working directory and workspaces folder, as on its own machine), then time from the
first ``request_deploy(client, auto_approve=True)`` until every run is final. Prints
progress as runs finish, then wall times, their ratios to the 1-worker baseline and the
workers' CPU per deploy (on a small machine the CPU bounds the gain). Checks that every
run ended ``applied`` and that moto holds exactly one A record per client.

Run: ``.venv/bin/python bench/deploy_workers.py [--clients 16] [--workers 1,2,4]``

Exit status 0 when every run was applied and the records are right (whatever the
speed-up: this is a measurement), 1 otherwise, as the figures then mean nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from common import (
    CUSTOMER_DOMAIN,
    RunRecord,
    cpu_seconds_with_children,
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
    worker_logs,
    worker_processes,
)

from app.extensions import db
from app.hosts import default_host
from app.models import LlmClient, RunStatus
from app.services import infra


@dataclass
class Scenario:
    """What one worker count gave."""

    workers: int
    clients: int
    wall: float = 0.0
    worker_cpu: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    statuses: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    records: list[str] = field(default_factory=list)
    expected_records: list[str] = field(default_factory=list)
    queue_waits: list[float] = field(default_factory=list)
    plan_times: list[float] = field(default_factory=list)
    apply_times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.failures
            and self.statuses[RunStatus.APPLIED.value] == self.clients
            and self.records == self.expected_records
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Wall time to deploy N clients (real terraform against moto with shared "
        "S3 state, real Redis and flask worker processes) with 1, 2 and 4 workers.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=16, help="clients deployed per scenario")
    parser.add_argument(
        "--workers", default="1,2,4", help="comma-separated worker counts, one scenario each"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="most seconds one scenario may take"
    )
    args = parser.parse_args(argv)
    try:
        args.worker_counts = [int(x) for x in args.workers.split(",") if x.strip()]
    except ValueError:
        parser.error("--workers takes comma-separated integers, e.g. 1,2")
    if args.clients < 1 or not args.worker_counts or min(args.worker_counts) < 1:
        parser.error("counts must be positive")
    return args


def run_scenario(workers: int, clients: int, timeout: float) -> Scenario:
    """Fresh servers, ``clients`` draft clients, ``workers`` workers: deploy all, timed."""
    result = Scenario(workers=workers, clients=clients)
    print(f"[{workers} worker(s)] starting PostgreSQL, Redis, moto; migrating...", flush=True)
    with infra_stack() as stack:
        app = migrated_app(stack.database_url, **stack.overrides())
        with app.app_context():
            client_ids = create_draft_clients(clients)
            number = db.session.get(LlmClient, client_ids[0]).account.account_number
            result.expected_records = sorted(
                default_host(f"bot-{i}", number, CUSTOMER_DOMAIN) for i in range(clients)
            )
            with worker_processes(stack, workers) as processes:
                print(f"[{workers} worker(s)] deploying {clients} clients...", flush=True)
                load_before = os.getloadavg()[0]
                cpu_before = sum(cpu_seconds_with_children(p.pid) for p in processes)
                started = time.monotonic()
                run_ids = [
                    infra.request_deploy(db.session.get(LlmClient, client_id), auto_approve=True).id
                    for client_id in client_ids
                ]
                try:
                    runs = wait_for_runs(
                        run_ids, timeout, processes, progress=progress_printer(workers, started)
                    )
                except (TimeoutError, RuntimeError) as error:
                    result.failures.append(f"{error}\n{worker_logs(stack)}")
                    runs = []
                result.wall = time.monotonic() - started
                cpu_after = sum(cpu_seconds_with_children(p.pid) for p in processes)
                result.worker_cpu = cpu_after - cpu_before
                result.load = (load_before, os.getloadavg()[0])
            collect(result, runs)
            db.session.remove()
            db.engine.dispose()
        result.records = route53_a_records(stack)
    return result


def progress_printer(workers: int, started: float):
    """Prints how many runs are final, with the seconds since the first request."""

    def show(done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        print(f"[{workers} worker(s)] {done}/{total} runs final after {elapsed:.0f} s", flush=True)

    return show


def collect(result: Scenario, runs: Sequence[RunRecord]) -> None:
    """Statuses, attempts, phase durations and failures of the scenario's runs."""
    for run_ in runs:
        result.statuses[run_.status.value] += 1
        result.attempts += run_.attempts
        for values, start, end in (
            (result.queue_waits, run_.created_at, run_.started_at),
            (result.plan_times, run_.started_at, run_.planned_at),
            (result.apply_times, run_.planned_at, run_.finished_at),
        ):
            seconds = seconds_between(start, end)
            if seconds is not None:
                values.append(seconds)
        if run_.status != RunStatus.APPLIED:
            result.failures.append(run_failure_text(run_))


def median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def report(scenarios: Sequence[Scenario]) -> None:
    print()
    print(
        "Real terraform 1.x (AWS provider, S3 state with its lock file) against moto's "
        "Route53 and S3; each worker a `python -m flask worker` process (RQ SimpleWorker) "
        "with its own workspaces folder; fresh PostgreSQL, Redis and moto per scenario; "
        "timed from the first request_deploy to the last run final."
    )
    print()
    rows = []
    for s in scenarios:
        statuses = " ".join(f"{k}={v}" for k, v in sorted(s.statuses.items())) or "-"
        rows.append(
            [
                s.workers,
                s.clients,
                f"{s.wall:.1f}",
                f"{s.wall / s.clients:.2f}",
                f"{s.worker_cpu / s.clients:.1f}",
                f"{s.load[0]:.1f} / {s.load[1]:.1f}",
                statuses,
                s.attempts,
                f"{len(s.records)}/{s.clients}",
                median(s.queue_waits),
                median(s.plan_times),
                median(s.apply_times),
            ]
        )
    print_table(
        [
            "workers",
            "clients",
            "wall s",
            "s/client",
            "worker CPU s/client",
            "load 1-min before/after",
            "runs",
            "attempts",
            "A records",
            "median queue wait s",
            "median init+plan+show s",
            "median apply s",
        ],
        rows,
    )
    by_workers = {s.workers: s for s in scenarios}
    baseline = by_workers.get(1)
    if baseline is not None:
        print()
        for s in scenarios:
            if s.workers != 1 and s.wall > 0:
                print(
                    f"Wall time 1 worker / {s.workers} workers: {baseline.wall / s.wall:.2f} "
                    f"({s.workers:.2f} would be a perfect speed-up; {os.cpu_count()} CPUs)"
                )
    for s in scenarios:
        checks = [
            f"every run applied: {'yes' if s.statuses['applied'] == s.clients else 'NO'}",
            f"A records = clients' hosts: {'yes' if s.records == s.expected_records else 'NO'}",
        ]
        print(f"[{s.workers} worker(s)] " + "; ".join(checks))
        for failure in s.failures:
            print(failure)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print("Reading the terraform provider once (page cache)...", flush=True)
    warm_terraform_provider()
    scenarios = [run_scenario(n, args.clients, args.timeout) for n in args.worker_counts]
    report(scenarios)
    return 0 if all(s.ok for s in scenarios) else 1


if __name__ == "__main__":
    run(main)
