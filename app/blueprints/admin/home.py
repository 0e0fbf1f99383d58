"""The console's first page: what needs attention (in the signed-in user's accounts)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.blueprint import bp
from app.services.overview import overview


@bp.get("/")
def home() -> ResponseReturnValue:
    found = overview(current_user)
    return render_template(
        "admin/home.html",
        accounts=found.accounts,
        clients=found.clients,
        client_statuses=found.client_statuses,
        domains=found.domains,
        awaiting=found.awaiting,
        recent=found.recent,
    )
