"""The budget's state at a glance, for the console and the CLI: ok, near (80%, when the
notice goes out) or exhausted, since when, and what is refused; and the requests the
limits refused this month (the budget's, and the per-minute limits' per client and key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, Notification
from app.services import usage
from app.services.budget_notices import NOTICE_SHARE

TABLE = usage.TABLE


@dataclass(frozen=True)
class BudgetState:
    """``level``: none (no budget), ok, near or exhausted."""

    level: str
    used: int
    budget: int | None
    since: date | datetime | None  # when it became near (the notice) or exhausted
    resets_at: datetime
    refused: int  # requests the budget refused this month

    @property
    def percent(self) -> int | None:
        return self.used * 100 // self.budget if self.budget else None

    def refusing(self) -> str:
        """What is refused, in words for the account's people."""
        resets = f"{self.resets_at:%Y-%m-%d %H:%M} UTC"
        if self.level == "exhausted":
            return (
                "Every chat request of this account's clients is refused (429 "
                f"budget_exhausted) until the budget is raised or the month ends ({resets})."
            )
        if self.level == "near":
            left = (self.budget or 0) - self.used
            return (
                f"{left} tokens are left; at the budget every chat request of this account is "
                f"refused (429 budget_exhausted) until {resets}."
            )
        return ""


def budget_state(account: Account, moment: datetime | None = None) -> BudgetState:
    used = usage.tokens_this_month(account.id, moment)
    budget = account.monthly_token_budget
    month = usage.month_start(moment)
    refused, first_refused = db.session.execute(
        select(
            func.coalesce(func.sum(TABLE.c.refused_budget), 0),
            func.min(TABLE.c.day).filter(TABLE.c.refused_budget > 0),
        ).where(TABLE.c.account_id == account.id, TABLE.c.day >= month)
    ).one()
    level, since = "none", None
    if budget:
        if used >= budget:
            level, since = "exhausted", first_refused
        elif used >= NOTICE_SHARE * budget:
            level, since = "near", _notice_sent(account, month)
        else:
            level = "ok"
    return BudgetState(
        level=level,
        used=used,
        budget=budget,
        since=since,
        resets_at=usage.next_month_start(moment),
        refused=int(refused),
    )


def _notice_sent(account: Account, month: date) -> datetime | None:
    """When this month's 80% notice was stored (None: not yet, or it is on its way)."""
    return db.session.execute(
        select(Notification.created_at)
        .where(
            Notification.account_id == account.id,
            Notification.kind == "budget_warning",
            Notification.created_at >= datetime(month.year, month.month, 1, tzinfo=UTC),
        )
        .limit(1)
    ).scalar()


def rate_limit_hits(account: Account, client_id: int | None = None) -> dict[str, list]:
    """This month's requests refused by a per-minute limit, per client and per key
    (only those refused at least once)."""
    since = usage.month_start()
    return {
        by: [
            row
            for row in usage.report(account_id=account.id, client_id=client_id, since=since, by=by)
            if row.refused_rate
        ]
        for by in ("client", "key")
    }
