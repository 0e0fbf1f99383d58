"""Infrastructure runs: one Terraform operation on a workspace, with its plan and log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models.common import UTCDateTime, utcnow


class RunKind(enum.StrEnum):
    PLAN = "plan"  # plan only (drift check); never applied
    APPLY = "apply"  # deploy: plan, review, apply
    DESTROY = "destroy"  # undeploy / delete: destroy plan, review, apply


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    APPLYING = "applying"
    APPLIED = "applied"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    DISCARDED = "discarded"
    ERRORED = "errored"


ACTIVE_STATUSES = frozenset(
    {RunStatus.QUEUED, RunStatus.PLANNING, RunStatus.APPLYING, RunStatus.DESTROYING}
)
FINAL_STATUSES = frozenset(
    {RunStatus.APPLIED, RunStatus.DESTROYED, RunStatus.DISCARDED, RunStatus.ERRORED}
)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class InfraRun(Model):
    __tablename__ = "infra_runs"
    __table_args__ = (Index("ix_infra_runs_workspace_created", "workspace_key", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[RunKind] = mapped_column(_enum(RunKind, "run_kind"))
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "run_status"), default=RunStatus.QUEUED
    )
    # The client may be deleted while its runs stay as history: name and account are kept.
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_clients.id", ondelete="SET NULL"), index=True
    )
    domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("custom_domains.id", ondelete="SET NULL"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    account_number: Mapped[str] = mapped_column(String(14))  # as it was: the run's history
    target_name: Mapped[str] = mapped_column(String(253))
    auto_approve: Mapped[bool] = mapped_column(default=False)
    drift_check: Mapped[bool] = mapped_column(default=False)
    plan_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    plan_text: Mapped[str] = mapped_column(Text, default="")
    plan_file: Mapped[str | None] = mapped_column(String(300))
    plan_file_hash: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(64))
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(254), default="")
    approved_by: Mapped[str | None] = mapped_column(String(254))
    rq_job_id: Mapped[str | None] = mapped_column(String(64))
    # The job that carries the run out (a handle of ``jobs.registry``) and its arguments:
    # enough for any process to enqueue it again (the reconciler, after Redis was down).
    job_name: Mapped[str | None] = mapped_column(String(64))
    job_args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The hosts the run's configuration serves (client runs): live once it is applied.
    hosts: Mapped[list[str]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when terraform apply first starts: a retry then knows the state may have moved.
    apply_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def kind_label(self) -> str:
        """What the run did so far, for people: ``plan`` until its apply starts (a deploy
        stopped at review, discarded or only drift-checked never applied anything), then
        ``apply``; ``destroy plan`` / ``destroy`` likewise."""
        applied = self.apply_started_at is not None
        if self.kind == RunKind.DESTROY:
            return "destroy" if applied else "destroy plan"
        if self.kind == RunKind.APPLY and applied:
            return "apply"
        return "plan"

    def __repr__(self) -> str:
        return f"<InfraRun {self.id} {self.kind} {self.status} {self.workspace_key}>"


class StoredPlan(Model):
    """A run's saved plan file, kept in the database rather than on a worker's disk: any
    worker on any machine applies exactly the reviewed plan. Deleted with its run, and as
    soon as the run is final (``runs.set_status``)."""

    __tablename__ = "stored_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("infra_runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column("bytes", LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<StoredPlan {self.name} of run {self.run_id}>"
