"""The console's first page: what needs attention."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from app.blueprints.admin import bp
from app.extensions import db
from app.models import Account, CustomDomain, InfraRun, LlmClient, RunStatus


@bp.get("/")
def home():
    def count(query) -> int:
        return db.session.execute(query).scalar_one()

    client_statuses = dict(
        db.session.execute(
            select(LlmClient.deployment_status, func.count()).group_by(LlmClient.deployment_status)
        ).all()
    )
    awaiting = list(
        db.session.execute(
            select(InfraRun)
            .where(InfraRun.status == RunStatus.AWAITING_APPROVAL)
            .order_by(InfraRun.id.desc())
        ).scalars()
    )
    recent = list(
        db.session.execute(select(InfraRun).order_by(InfraRun.id.desc()).limit(8)).scalars()
    )
    return render_template(
        "admin/home.html",
        accounts=count(select(func.count()).select_from(Account)),
        clients=sum(client_statuses.values()),
        client_statuses=client_statuses,
        domains=count(select(func.count()).select_from(CustomDomain)),
        awaiting=awaiting,
        recent=recent,
    )
