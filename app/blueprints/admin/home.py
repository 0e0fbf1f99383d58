"""The console's first page: what needs attention (in the signed-in user's accounts)."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

from app.blueprints.admin import bp
from app.extensions import db
from app.models import Account, CustomDomain, InfraRun, LlmClient, RunStatus
from app.services.access import visible_account_ids

Query = TypeVar("Query", bound=Select)


@bp.get("/")
def home() -> ResponseReturnValue:
    ids = visible_account_ids(current_user)

    def scoped(query: Query, account_id: InstrumentedAttribute[int]) -> Query:
        return query if ids is None else query.where(account_id.in_(ids))

    def count(query: Select[Any]) -> int:
        return db.session.execute(query).scalar_one()

    numbers = scoped(select(Account.account_number), Account.id)
    client_statuses = dict(
        db.session.execute(
            scoped(
                select(LlmClient.deployment_status, func.count()), LlmClient.account_id
            ).group_by(LlmClient.deployment_status)
        ).all()
    )
    runs = select(InfraRun).order_by(InfraRun.id.desc())
    if ids is not None:
        runs = runs.where(InfraRun.account_number.in_(numbers))
    awaiting = list(
        db.session.execute(runs.where(InfraRun.status == RunStatus.AWAITING_APPROVAL)).scalars()
    )
    recent = list(db.session.execute(runs.limit(8)).scalars())
    return render_template(
        "admin/home.html",
        accounts=count(scoped(select(func.count()).select_from(Account), Account.id)),
        clients=sum(client_statuses.values()),
        client_statuses=client_statuses,
        domains=count(
            scoped(select(func.count()).select_from(CustomDomain), CustomDomain.account_id)
        ),
        awaiting=awaiting,
        recent=recent,
    )
