"""The month's one notice that an account used 80% of its token budget.

The chat request only notices the crossing (in :mod:`app.services.limits`) and enqueues
a job; the worker stores the notice and delivers it (webhook, email: seconds of network
that must never sit inside a chat request). The notice's dedupe key makes it once a
month whoever crosses first and however often the job runs.
"""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError

from app.extensions import db
from app.models import Account
from app.queue import JOBS, QueueUnavailable, job_queue
from app.services import notifications, usage

log = structlog.get_logger(__name__)

NOTICE_SHARE = 0.8


def crossed(budget: int, before: int, after: int) -> bool:
    """Whether going from ``before`` to ``after`` tokens crossed 80% of ``budget``."""
    return before < NOTICE_SHARE * budget <= after


def enqueue(account_id: int, budget: int, used: int) -> None:
    """Hand the notice to a worker; a queue that cannot be reached only logs (the next
    reseed of the budget counter notices the crossing again)."""
    try:
        job_queue().enqueue(JOBS["budget_warning"], account_id, budget, used)
    except (RedisError, QueueUnavailable) as error:
        log.warning("budget_notice_not_enqueued", account_id=account_id, error=str(error))


def send_budget_warning(account_id: int, budget: int, used: int) -> bool:
    """Store and deliver the notice (the job's work). False when this month's notice
    exists already or the account is gone."""
    account = db.session.get(Account, account_id)
    if account is None:
        return False
    month = f"{usage.month_start():%Y-%m}"
    notice = notifications.notify(
        account,
        kind="budget_warning",
        subject=f"{account.name} used {used * 100 // budget}% of its monthly token budget",
        body=f"{used} of {budget} tokens used in {month}; at the budget, chat requests are "
        "refused (429 budget_exhausted) until the first of next month.",
        data={"month": month, "used": used, "budget": budget},
        dedupe_key=f"budget-80:{month}",
    )
    db.session.commit()
    if notice is None:
        return False
    notifications.deliver([notice])
    return True
