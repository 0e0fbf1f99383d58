"""Limits of a chat request, counted in Redis so they hold across processes and machines.

- Requests and tokens per minute, per API key and per client: fixed one-minute windows
  (``limit:{kind}:{id}:{rpm|tpm}:{minute}``). A request is refused when its request
  counters are full or its token counters already reached their limit (the tokens of an
  answer are only known once it is served).
- The account's monthly token budget: ``budget:{account}:{YYYY-MM}`` holds the tokens
  used this month, seeded from the stored usage aggregates (``SET NX`` with a short TTL,
  so it is reconciled with the database every ``BUDGET_RESEED_SECONDS``, e.g. after a
  Redis outage lost increments) and incremented after each answer. Used >= budget: 429
  ``budget_exhausted`` until the first of next month. Crossing 80% sends one notice.

Checking all limits of a request is one round trip (a Lua script); counting the
answer's tokens is a second, after the turn is stored. When Redis cannot be reached the
limits fail open: the chat answers, the failure is logged (at most once a minute per
process) and counted in ``chatdock_limits_unavailable_total``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import RedisError

from app.config import current_settings
from app.errors import ChatdockError
from app.extensions import db
from app.metrics import LIMITS_REFUSED, LIMITS_UNAVAILABLE
from app.models import Account, ApiKey, LlmClient
from app.services import notifications, usage

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60
BUDGET_RESEED_SECONDS = 300
NOTICE_SHARE = 0.8

# KEYS: the rate counters, then the budget key. ARGV: budget (-1: none), then per rate
# counter its limit and 1 (requests: counted now) or 0 (tokens: checked only), and last
# the window's TTL. Returns {0} admitted, {1, i} counter i full, {2, used} budget
# exhausted, {3} budget key missing (seed it and ask again); admitted also returns
# the budget used so far as its second element.
CHECK_SCRIPT = """
local n = #KEYS - 1
local budget = tonumber(ARGV[1])
local ttl = tonumber(ARGV[#ARGV])
local used = 0
if budget >= 0 then
  local value = redis.call('GET', KEYS[#KEYS])
  if not value then return {3, 0} end
  used = tonumber(value)
  if used >= budget then return {2, used} end
end
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local counted = ARGV[2 * i + 1] == '1'
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if (counted and current + 1 > limit) or ((not counted) and current >= limit) then
    return {1, i}
  end
end
for i = 1, n do
  if ARGV[2 * i + 1] == '1' then
    redis.call('INCR', KEYS[i])
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return {0, used}
"""

# KEYS: token counters, then the budget key. ARGV: tokens, TTL. Returns the budget used
# after the increment (-1 when its key is absent: it is seeded again on the next check).
SETTLE_SCRIPT = """
local tokens = tonumber(ARGV[1])
for i = 1, #KEYS - 1 do
  redis.call('INCRBY', KEYS[i], tokens)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2]))
end
if redis.call('EXISTS', KEYS[#KEYS]) == 1 then
  return redis.call('INCRBY', KEYS[#KEYS], tokens)
end
return -1
"""


class LimitReached(ChatdockError):
    status, code = 429, "rate_limited"


@dataclass
class Admission:
    """What an admitted request must count once answered."""

    account_id: int
    budget: int | None
    budget_key: str
    token_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    counts_requests: bool
    label: str


_clients: dict[str, Redis] = {}
_clients_lock = threading.Lock()
_last_warning = 0.0


def _redis(url: str) -> Redis:
    """One client (and connection pool) per process and URL, with short timeouts: the
    limits must never hold a chat request up for long."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            _clients[url] = client
        return client


def _eval(redis: Redis, script: str, keys: list[str], args: list[int]) -> Any:
    """EVAL, with the reply as the script returned it (an integer or a list of them).

    redis-py types every EVAL argument and reply as ``str``; the arguments go as strings
    (what Redis receives either way) and the reply is the script's."""
    return redis.eval(script, len(keys), *keys, *(str(arg) for arg in args))


def _fail_open(error: Exception | str) -> None:
    global _last_warning
    LIMITS_UNAVAILABLE.inc()
    now = time.monotonic()
    if now - _last_warning >= 60:
        _last_warning = now
        log.warning("limits_unavailable", error=str(error), action="failing open")


def _counters(client: LlmClient, api_key: ApiKey | None, minute: int) -> list[_Counter]:
    owners: list[tuple[str, int, LlmClient | ApiKey, str]] = [
        ("client", client.id, client, f"client {client.name}")
    ]
    if api_key is not None:
        owners.append(("key", api_key.id, api_key, f"API key {api_key.key_id}"))
    counters = []
    for kind, owner_id, owner, label in owners:
        if owner.requests_per_minute is not None:
            counters.append(
                _Counter(
                    f"limit:{kind}:{owner_id}:rpm:{minute}",
                    owner.requests_per_minute,
                    True,
                    f"{label}: {owner.requests_per_minute} requests per minute",
                )
            )
        if owner.tokens_per_minute is not None:
            counters.append(
                _Counter(
                    f"limit:{kind}:{owner_id}:tpm:{minute}",
                    owner.tokens_per_minute,
                    False,
                    f"{label}: {owner.tokens_per_minute} tokens per minute",
                )
            )
    return counters


def budget_key(account_id: int, moment: datetime | None = None) -> str:
    return f"budget:{account_id}:{usage.month_start(moment):%Y-%m}"


def admit(client: LlmClient, api_key: ApiKey | None) -> Admission | None:
    """Refuse (LimitReached) or count the request; None when nothing is to be counted."""
    settings = current_settings()
    if not settings.CHAT_LIMITS_ENABLED:
        return None
    account = client.account
    now = time.time()
    minute = int(now // WINDOW_SECONDS)
    counters = _counters(client, api_key, minute)
    budget = account.monthly_token_budget
    if not counters and budget is None:
        return None
    admission = Admission(
        account_id=account.id,
        budget=budget,
        budget_key=budget_key(account.id),
        token_keys=[c.key for c in counters if not c.counts_requests],
    )
    if not settings.REDIS_URL:
        _fail_open("REDIS_URL is not set")
        return None
    keys = [c.key for c in counters] + [admission.budget_key]
    args: list[int] = [budget if budget is not None else -1]
    for counter in counters:
        args += [counter.limit, int(counter.counts_requests)]
    args.append(WINDOW_SECONDS * 2)
    try:
        redis = _redis(settings.REDIS_URL)
        status, value = _eval(redis, CHECK_SCRIPT, keys, args)
        if status == 3 and budget is not None:  # only a budget is ever missing
            used = _seed_budget(redis, account)
            status, value = _eval(redis, CHECK_SCRIPT, keys, args)
            if status == 3:  # expired in between: use what the database says
                status, value = (2, used) if used >= budget else (0, used)
    except RedisError as error:
        _fail_open(error)
        return None
    if status == 1:
        retry_after = max(1, math.ceil((minute + 1) * WINDOW_SECONDS - now))
        LIMITS_REFUSED.labels(limit="rate").inc()
        raise LimitReached(
            f"rate limit reached ({counters[value - 1].label}); retry in {retry_after}s",
            headers={"Retry-After": str(retry_after)},
        )
    if status == 2:
        resets = usage.next_month_start()
        retry_after = max(1, math.ceil(resets.timestamp() - now))
        LIMITS_REFUSED.labels(limit="budget").inc()
        raise LimitReached(
            f"the account's monthly token budget ({budget}) is used up ({value} tokens); "
            f"it resets at {resets:%Y-%m-%dT%H:%M:%SZ}",
            code="budget_exhausted",
            headers={"Retry-After": str(retry_after)},
            details={"budget": budget, "used": int(value), "resets_at": resets.isoformat()},
        )
    return admission


def _seed_budget(redis: Redis, account: Account) -> int:
    """Put the month's stored usage in Redis (unless another process just did)."""
    used = usage.tokens_this_month(account.id)
    redis.set(budget_key(account.id), used, nx=True, ex=BUDGET_RESEED_SECONDS)
    _maybe_notify(account.id, account.monthly_token_budget, -1, used)
    return used


def settle(admission: Admission, tokens: int) -> None:
    """Count an answer's tokens (per-minute counters and the budget); fail open."""
    settings = current_settings()
    keys = [*admission.token_keys, admission.budget_key]
    try:
        used: int = _eval(
            _redis(settings.REDIS_URL), SETTLE_SCRIPT, keys, [tokens, WINDOW_SECONDS * 2]
        )
    except RedisError as error:
        _fail_open(error)
        return
    if used >= 0:
        _maybe_notify(admission.account_id, admission.budget, used - tokens, used)


def _maybe_notify(account_id: int, budget: int | None, before: int, after: int) -> None:
    """The one notice of the month, when this answer crossed 80% of the budget."""
    if budget is None or not (before < NOTICE_SHARE * budget <= after):
        return
    account = db.session.get(Account, account_id)
    if account is None:
        return
    month = f"{usage.month_start():%Y-%m}"
    notice = notifications.notify(
        account,
        kind="budget_warning",
        subject=f"{account.name} used {after * 100 // budget}% of its monthly token budget",
        body=f"{after} of {budget} tokens used in {month}; at the budget, chat requests are "
        "refused (429 budget_exhausted) until the first of next month.",
        data={"month": month, "used": after, "budget": budget},
        dedupe_key=f"budget-80:{month}",
    )
    db.session.commit()
    notifications.deliver([notice])


def limits_now(account_id: int) -> dict[str, int | None]:
    """What the console and CLI show next to the usage: the budget and its use."""
    account = db.session.get(Account, account_id)
    used = usage.tokens_this_month(account_id)
    return {"budget": account.monthly_token_budget if account else None, "used": used}
