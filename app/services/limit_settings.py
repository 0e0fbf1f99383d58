"""Setting the limits: an account's monthly token budget, the per-minute limits of a
client or an API key. 0 (or None) removes a limit. The chat reads them on each request,
so a change applies to the next request; the budget's Redis counter is left as is.

Who sets what, decided here for the console, the CLI and the management API alike: the
monthly budget is the platform's spending control (platform admins only); the per-minute
limits are the customer's own (the account's owners, and platform admins), never a plain
member's. ``by`` is the user asking; None is the operator at the server's shell (the CLI),
who may do what a platform admin may."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import Account, AdminUser, ApiKey, LlmClient, MemberRole
from app.services import audit
from app.services.access import require_owner, require_platform_admin, role_in
from app.services.api_keys import parse_key_id

MAX_BUDGET = 10**15  # a BIGINT column
MAX_RATE = 2**31 - 1  # INTEGER columns


def _limit(value: int | None, what: str, most: int = MAX_RATE) -> int | None:
    if value is None or value == 0:
        return None
    if value < 0 or value > most:
        raise InvalidInput(f"{what} must be between 0 (no limit) and {most}, not {value}")
    return value


def set_budget(
    account: Account, monthly_tokens: int | None, *, by: AdminUser | None
) -> dict[str, tuple]:
    """Returns the changed fields as {field: (before, after)}."""
    if by is not None:
        require_platform_admin(by, "set an account's monthly token budget")
    before = account.monthly_token_budget
    account.monthly_token_budget = _limit(monthly_tokens, "the monthly token budget", MAX_BUDGET)
    changes = _changes({"monthly_token_budget": (before, account.monthly_token_budget)})
    if changes:
        audit.record(
            "set_limits", "account", account.account_number, account_id=account.id, changes=changes
        )
    db.session.commit()
    return changes


def set_rate_limits(
    owner: LlmClient | ApiKey,
    *,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    user_requests_per_minute: int | None = None,
    user_tokens_per_minute: int | None = None,
    by: AdminUser | None,
    commit: bool = True,
) -> dict[str, tuple]:
    """Set the given limits (None: leave as is, 0: remove); returns what changed. The
    ``user_`` limits are a client's, for each identified widget user (docs/publish.md).
    ``commit=False`` leaves the commit to the caller (a manifest applies a whole file)."""
    require_owner(by, owner.account_id, "set its rate limits")
    per_user = (
        ("user_requests_per_minute", user_requests_per_minute),
        ("user_tokens_per_minute", user_tokens_per_minute),
    )
    if not isinstance(owner, LlmClient) and any(value is not None for _, value in per_user):
        raise InvalidInput("per-user limits are a client's (widget users), not an API key's")
    changes = {}
    for field, value in (
        ("requests_per_minute", requests_per_minute),
        ("tokens_per_minute", tokens_per_minute),
        *per_user,
    ):
        if value is None:
            continue
        before = getattr(owner, field)
        setattr(owner, field, _limit(value, field.replace("_", " ")))
        changes[field] = (before, getattr(owner, field))
    changes = _changes(changes)
    if changes:
        kind, ident = (
            ("client", owner.id) if isinstance(owner, LlmClient) else ("api_key", owner.key_id)
        )
        audit.record("set_limits", kind, ident, account_id=owner.account_id, changes=changes)
    if commit:
        db.session.commit()
    return changes


def _changes(fields: dict[str, tuple]) -> dict[str, tuple]:
    return {name: pair for name, pair in fields.items() if pair[0] != pair[1]}


def get_key(account: Account, key_id: str) -> ApiKey:
    """The account's key with this id (the key's first part, as `apikeys list` shows)."""
    key_id = parse_key_id(key_id)
    api_key = db.session.execute(
        select(ApiKey).where(ApiKey.key_id == key_id, ApiKey.account_id == account.id)
    ).scalar_one_or_none()
    if api_key is None:
        raise NotFound(f"account {account.account_number} has no API key {key_id}")
    return api_key


def may_set_budget(user: AdminUser) -> bool:
    """Whether the console offers ``user`` the budget's form."""
    return user.is_platform_admin


def may_set_rate_limits(user: AdminUser, account_id: int) -> bool:
    """Whether the console offers ``user`` the per-minute limits' form."""
    return user.is_platform_admin or role_in(user, account_id) == MemberRole.OWNER
