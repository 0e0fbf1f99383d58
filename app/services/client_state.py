"""A client's two facts, as every surface shows them: what is served, and what change
is pending.

Serving follows the last successful apply (``deployment_status``, the live hosts,
since when). The pending change is the client's latest run when it is not applied or
destroyed: queued, planning, awaiting review, applying, errored or discarded. Keeping
them apart is what lets a live client stay live while a change waits or fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import DeploymentStatus, InfraRun, LlmClient, RunKind, RunStatus
from app.services.clients import client_hosts

SETTLED = (RunStatus.APPLIED, RunStatus.DESTROYED)
_CHANGE_WORDS = {
    RunStatus.QUEUED: "queued",
    RunStatus.PLANNING: "planning",
    RunStatus.AWAITING_APPROVAL: "awaiting review",
    RunStatus.APPLYING: "applying",
    RunStatus.DESTROYING: "destroying",
}


@dataclass(frozen=True)
class PendingChange:
    """The client's latest run while it is not applied or destroyed."""

    run_id: int
    kind: RunKind
    status: RunStatus
    error: str

    @property
    def failed(self) -> bool:
        return self.status == RunStatus.ERRORED

    @property
    def verb(self) -> str:
        return "undeploy" if self.kind == RunKind.DESTROY else "change"

    def text(self) -> str:
        """``change awaiting review (run 7)``, ``last change failed (run 7): <reason>``."""
        if self.status == RunStatus.ERRORED:
            return f"last {self.verb} failed (run {self.run_id}): {self.error or 'see its log'}"
        if self.status == RunStatus.DISCARDED:
            reason = f": {self.error}" if self.error else ""
            return f"last {self.verb} discarded (run {self.run_id}){reason}"
        return (
            f"{self.verb} {_CHANGE_WORDS.get(self.status, self.status.value)} (run {self.run_id})"
        )


@dataclass(frozen=True)
class ClientState:
    status: DeploymentStatus
    hosts: tuple[str, ...]  # served now (empty when not served)
    since: datetime | None
    change: PendingChange | None

    @property
    def serving(self) -> bool:
        return self.status == DeploymentStatus.DEPLOYED

    def serving_text(self) -> str:
        """``live on a, b since 2026-12-02 04:10 UTC`` or why it is not served."""
        if self.serving:
            since = f" since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else ""
            return f"live on {', '.join(self.hosts)}{since}"
        return {
            DeploymentStatus.DRAFT: "not served (draft)",
            DeploymentStatus.DEPLOYING: "not served yet (first deploy under way)",
            DeploymentStatus.UNDEPLOYING: "not served (undeploy requested)",
        }.get(self.status, f"not served ({self.status.value})")

    def headline(self) -> str:
        """The state at a glance: ``deployed, change awaiting review (run 7)``."""
        if self.change is None:
            return self.status.value
        return f"{self.status.value}, {self.change.text()}"


def pending_changes(client_ids: Iterable[int]) -> dict[int, PendingChange]:
    """The pending change of each client, by client id, in one query."""
    ids = list(client_ids)
    if not ids:
        return {}
    latest = (
        select(func.max(InfraRun.id))
        .where(InfraRun.client_id.in_(ids))
        .group_by(InfraRun.client_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(InfraRun.client_id, InfraRun.id, InfraRun.kind, InfraRun.status, InfraRun.error)
        .where(InfraRun.id.in_(latest))
        .where(InfraRun.status.not_in(SETTLED))
    )
    return {
        client_id: PendingChange(run_id, kind, status, error or "")
        for client_id, run_id, kind, status, error in rows
        if client_id is not None  # always: the runs were selected by client
    }


def client_state(client: LlmClient) -> ClientState:
    """Both facts of one client."""
    return _state(client, pending_changes([client.id]).get(client.id))


def _state(client: LlmClient, change: PendingChange | None) -> ClientState:
    serving = client.deployment_status == DeploymentStatus.DEPLOYED
    return ClientState(
        status=client.deployment_status,
        hosts=tuple(client_hosts(client)) if serving else (),
        since=client.deployed_at if serving else None,
        change=change,
    )


def client_states(clients: Iterable[LlmClient]) -> dict[int, ClientState]:
    """Both facts of many clients, with one query for their changes."""
    clients = list(clients)
    changes = pending_changes(c.id for c in clients)
    return {c.id: _state(c, changes.get(c.id)) for c in clients}
