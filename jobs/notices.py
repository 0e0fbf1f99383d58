"""Notices that a request noticed and a worker sends (never inside the request)."""

from __future__ import annotations

from app.services import budget_notices


def budget_warning(account_id: int, budget: int, used: int) -> bool:
    """The month's 80% budget notice of an account: stored once, then delivered."""
    return budget_notices.send_budget_warning(account_id, budget, used)
