"""The console's first page in numbers: what the signed-in user's accounts hold, and
which runs need attention (plans awaiting review, the latest runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

from app.extensions import db
from app.models import (
    Account,
    AdminUser,
    CustomDomain,
    DeploymentStatus,
    InfraRun,
    LlmClient,
    RunStatus,
)
from app.services.access import visible_account_ids

Query = TypeVar("Query", bound=Select)
RECENT_RUNS = 8


@dataclass(frozen=True)
class Overview:
    accounts: int
    client_statuses: dict[DeploymentStatus, int]
    domains: int
    awaiting: list[InfraRun]  # plans to review
    recent: list[InfraRun]

    @property
    def clients(self) -> int:
        return sum(self.client_statuses.values())


def overview(user: AdminUser) -> Overview:
    """The numbers of the accounts ``user`` reaches (every account for platform admins)."""
    ids = visible_account_ids(user)

    def scoped(query: Query, account_id: InstrumentedAttribute[int]) -> Query:
        return query if ids is None else query.where(account_id.in_(ids))

    def count(query: Select[Any]) -> int:
        return db.session.execute(query).scalar_one()

    client_statuses = dict(
        db.session.execute(
            scoped(
                select(LlmClient.deployment_status, func.count()), LlmClient.account_id
            ).group_by(LlmClient.deployment_status)
        ).all()
    )
    runs = select(InfraRun).order_by(InfraRun.id.desc())
    if ids is not None:
        runs = runs.where(InfraRun.account_id.in_(ids))
    return Overview(
        accounts=count(scoped(select(func.count()).select_from(Account), Account.id)),
        client_statuses=client_statuses,
        domains=count(
            scoped(select(func.count()).select_from(CustomDomain), CustomDomain.account_id)
        ),
        awaiting=list(
            db.session.execute(runs.where(InfraRun.status == RunStatus.AWAITING_APPROVAL)).scalars()
        ),
        recent=list(db.session.execute(runs.limit(RECENT_RUNS)).scalars()),
    )
