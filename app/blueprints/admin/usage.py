"""Usage and limits on the account and client pages (tables, and charts drawn by the
vendored Chart.js), the budget's state, refusals, and the forms that set the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import attempt, get_or_404
from app.blueprints.admin.forms import BudgetForm, RateLimitForm
from app.models import Account, LlmClient
from app.services import budget_state, limit_settings, limits, usage

CHART_DAYS = 30


def usage_panel(account: Account, client: LlmClient | None = None) -> dict[str, Any]:
    """What the usage section shows: the month's budget and use, a table, chart data."""
    since = datetime.now(UTC).date() - timedelta(days=CHART_DAYS - 1)
    client_id = client.id if client else None
    days = [(since + timedelta(days=n)).isoformat() for n in range(CHART_DAYS)]
    series = usage.daily_by_client(account_id=account.id, since=since, client_id=client_id)
    chart = {
        "days": days,
        "clients": {
            name: {
                "requests": [per_day.get(d, {}).get("requests", 0) for d in days],
                "tokens": [per_day.get(d, {}).get("tokens", 0) for d in days],
            }
            for name, per_day in sorted(series.items())
        },
    }
    return {
        "limits": limits.limits_now(account.id),
        "state": budget_state.budget_state(account),
        "rate_hits": budget_state.rate_limit_hits(account, client_id),
        "since": since,
        "rows": usage.report(
            account_id=account.id,
            client_id=client_id,
            since=since,
            by="day" if client else "client",
        ),
        "grouping": "day" if client else "client",
        "chart": chart,
    }


@bp.post("/accounts/<int:account_id>/limits")
def account_limits(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = BudgetForm()
    if form.validate_on_submit():
        attempt(
            lambda: limit_settings.set_budget(
                account, form.monthly_tokens.data or 0, by=current_user
            ),
            "Budget saved.",
        )
    else:
        _flash_errors(form)
    return redirect(url_for("admin.account", account_id=account_id) + "#usage")


@bp.post("/clients/<int:client_id>/limits")
def client_limits(client_id: int) -> ResponseReturnValue:
    client = get_or_404(LlmClient, client_id)
    form = RateLimitForm()
    if form.validate_on_submit():
        attempt(
            lambda: limit_settings.set_rate_limits(
                client,
                requests_per_minute=form.requests_per_minute.data or 0,
                tokens_per_minute=form.tokens_per_minute.data or 0,
                by=current_user,
            ),
            "Limits saved.",
        )
    else:
        _flash_errors(form)
    return redirect(url_for("admin.client", client_id=client_id) + "#usage")


def _flash_errors(form: FlaskForm) -> None:
    for field, errors in form.errors.items():
        flash(f"{field}: {'; '.join(map(str, errors))}", "danger")
