"""Limits of a chat request, counted in Redis so they hold across processes and machines.

- Requests per minute, per API key, per client and per identified widget user: fixed
  one-minute windows (``limit:{kind}:{id}:rpm:{minute}``), counted when a request is admitted.
- Tokens per minute, per API key and per client (``...:tpm:{minute}``), and the account's
  monthly token budget. A request is admitted with a **reservation**: its prompt (an
  estimate, :mod:`app.llm.tokens`) plus the most it may answer (``max_tokens``), cut
  down to what every token counter has left. No room for the prompt and one answer
  token: 429. Otherwise the reservation is added to each counter in the same atomic
  step, the provider is asked for at most the reserved answer, and once answered the
  counters are settled to the tokens really used. Requests running at the same time
  therefore cannot overshoot a limit; what remains is the estimate's error on the prompt
  (it errs high).
- The budget's used tokens live in ``budget:{account}:{YYYY-MM}``, seeded from the stored
  usage aggregates (``SET NX`` with a short TTL, so it is reconciled with the database
  every ``BUDGET_RESEED_SECONDS``, e.g. after a Redis outage lost increments); the
  reservations of requests in flight in ``budget-held:{account}:{YYYY-MM}`` beside it (a
  reseed never forgets them). Crossing 80% enqueues the month's one notice
  (:mod:`app.services.budget_notices`, delivered by a worker, never in the chat request).

Admitting is one round trip (a Lua script), settling a second one after the turn is
stored. When Redis cannot be reached the limits fail open: the chat answers, the failure
is logged (at most once a minute per process) and counted in
``chatdock_limits_unavailable_total``.
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
from redis.commands.core import Script
from redis.exceptions import RedisError

from app.config import current_settings
from app.errors import ChatdockError
from app.extensions import db
from app.metrics import LIMITS_REFUSED, LIMITS_UNAVAILABLE
from app.models import Account, ApiKey
from app.services import budget_notices, usage
from app.services.chat_settings import ChatSettings

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60
BUDGET_RESEED_SECONDS = 300
# A reservation outlives the longest request; past that a crashed process's hold lapses.
HOLD_SECONDS = 3600

# KEYS: the request counters, the token counters, the budget's used and held keys.
# ARGV: number of request counters, of token counters, the budget (-1: none), the
# tokens the request needs at least (prompt + 1), the tokens it wants (prompt +
# max_tokens), the window TTL, the hold TTL, then each request counter's limit, then
# each token counter's limit.
# Returns {0, reserved, used}: admitted, {1, i}: request counter i full, {2, used}:
# budget exhausted, {4, i}: token counter i has no room, {3}: budget key missing (seed
# it and ask again).
CHECK_SCRIPT = """
local n_req = tonumber(ARGV[1])
local n_tok = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local need = tonumber(ARGV[4])
local allowance = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local hold_ttl = tonumber(ARGV[7])
local used_key = KEYS[n_req + n_tok + 1]
local held_key = KEYS[n_req + n_tok + 2]
local used = 0
if budget >= 0 then
  local value = redis.call('GET', used_key)
  if not value then return {3, 0} end
  used = tonumber(value)
  local held = math.max(tonumber(redis.call('GET', held_key) or '0'), 0)
  local room = budget - used - held
  if room < need then return {2, used + held} end
  allowance = math.min(allowance, room)
end
for i = 1, n_req do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current + 1 > tonumber(ARGV[7 + i]) then return {1, i} end
end
for i = 1, n_tok do
  local room = tonumber(ARGV[7 + n_req + i]) - tonumber(redis.call('GET', KEYS[n_req + i]) or '0')
  if room < need then return {4, i} end
  allowance = math.min(allowance, room)
end
for i = 1, n_req do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ttl)
end
for i = 1, n_tok do
  redis.call('INCRBY', KEYS[n_req + i], allowance)
  redis.call('EXPIRE', KEYS[n_req + i], ttl)
end
if budget >= 0 then
  redis.call('INCRBY', held_key, allowance)
  redis.call('EXPIRE', held_key, hold_ttl)
end
return {0, allowance, used}
"""

# KEYS: the token counters, then the budget's used and held keys. ARGV: the tokens
# reserved, the tokens used, the window TTL, whether a budget holds (1/0). Returns the
# budget used after the answer (-1 when its key is absent: it is seeded again on the
# next check, from the database, which has this answer by then).
SETTLE_SCRIPT = """
local reserved = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local n_tok = #KEYS - 2
for i = 1, n_tok do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCRBY', KEYS[i], tokens - reserved)
  end
end
if ARGV[4] ~= '1' then return -1 end
local held = redis.call('DECRBY', KEYS[n_tok + 2], reserved)
if held < 0 then redis.call('SET', KEYS[n_tok + 2], 0, 'KEEPTTL') end
if redis.call('EXISTS', KEYS[n_tok + 1]) == 1 then
  return redis.call('INCRBY', KEYS[n_tok + 1], tokens)
end
return -1
"""


class LimitReached(ChatdockError):
    status, code = 429, "rate_limited"


@dataclass
class Admission:
    """What an admitted request reserved, and where to settle it once answered."""

    account_id: int
    budget: int | None
    budget_key: str
    held_key: str
    reserved: int
    token_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KeyLimits:
    """An API key's per-minute limits as plain values: read before the request's
    transaction ends, so admitting it never reloads the key (a query, and a transaction
    left open while the model answers)."""

    id: int
    key_id: str
    requests_per_minute: int | None
    tokens_per_minute: int | None

    @classmethod
    def of(cls, api_key: ApiKey) -> KeyLimits:
        return cls(
            api_key.id, api_key.key_id, api_key.requests_per_minute, api_key.tokens_per_minute
        )


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


_scripts: dict[str, Script] = {}


def _eval(redis: Redis, script: str, keys: list[str], args: list[int]) -> Any:
    """Run a script by its SHA (``EVALSHA``; loaded once per server, again after a
    restart), with the reply as the script returned it (an integer or a list of them)."""
    runner = _scripts.get(script)
    if runner is None:
        runner = _scripts[script] = Script(redis, script)
    return runner(keys=keys, args=args, client=redis)


def fail_open(error: Exception | str) -> None:
    global _last_warning
    LIMITS_UNAVAILABLE.inc()
    now = time.monotonic()
    if now - _last_warning >= 60:
        _last_warning = now
        log.warning("limits_unavailable", error=str(error), action="failing open")


def _counters(
    client: ChatSettings, api_key: KeyLimits | None, minute: int, end_user: str | None = None
) -> list[_Counter]:
    """Request counters first, then token counters (the order the script expects): the
    client's, the API key's, and the widget's identified user's (per client)."""
    owners: list[tuple[str, int | str, int | None, int | None, str]] = [
        (
            "client",
            client.id,
            client.requests_per_minute,
            client.tokens_per_minute,
            f"client {client.name}",
        )
    ]
    if api_key is not None:
        owners.append(
            (
                "key",
                api_key.id,
                api_key.requests_per_minute,
                api_key.tokens_per_minute,
                f"API key {api_key.key_id}",
            )
        )
    if end_user is not None:
        owners.append(
            (
                "user",
                f"{client.id}:{end_user}",
                client.user_requests_per_minute,
                client.user_tokens_per_minute,
                f"user {end_user}",
            )
        )
    requests, tokens = [], []
    for kind, owner_id, rpm, tpm, label in owners:
        if rpm is not None:
            requests.append(
                _Counter(
                    f"limit:{kind}:{owner_id}:rpm:{minute}",
                    rpm,
                    True,
                    f"{label}: {rpm} requests per minute",
                )
            )
        if tpm is not None:
            tokens.append(
                _Counter(
                    f"limit:{kind}:{owner_id}:tpm:{minute}",
                    tpm,
                    False,
                    f"{label}: {tpm} tokens per minute",
                )
            )
    return requests + tokens


def budget_key(account_id: int, moment: datetime | None = None) -> str:
    return f"budget:{account_id}:{usage.month_start(moment):%Y-%m}"


def held_key(account_id: int, moment: datetime | None = None) -> str:
    return f"budget-held:{account_id}:{usage.month_start(moment):%Y-%m}"


def admit(
    client: ChatSettings,
    api_key: KeyLimits | None,
    prompt_tokens: int,
    max_tokens: int,
    end_user: str | None = None,
) -> Admission | None:
    """Refuse (LimitReached) or reserve the request's tokens; None when nothing is
    counted. The reservation (``Admission.reserved``) may be less than
    ``prompt_tokens + max_tokens``: the caller asks the provider for at most
    ``reserved - prompt_tokens`` answer tokens."""
    settings = current_settings()
    if not settings.CHAT_LIMITS_ENABLED:
        return None
    now = time.time()
    minute = int(now // WINDOW_SECONDS)
    counters = _counters(client, api_key, minute, end_user)
    budget = client.monthly_token_budget
    if not counters and budget is None:
        return None
    if not settings.REDIS_URL:
        fail_open("REDIS_URL is not set")
        return None
    request_counters = [c for c in counters if c.counts_requests]
    token_counters = [c for c in counters if not c.counts_requests]
    admission = Admission(
        account_id=client.account_id,
        budget=budget,
        budget_key=budget_key(client.account_id),
        held_key=held_key(client.account_id),
        reserved=0,
        token_keys=[c.key for c in token_counters],
    )
    keys = [c.key for c in counters] + [admission.budget_key, admission.held_key]
    args = [
        len(request_counters),
        len(token_counters),
        budget if budget is not None else -1,
        prompt_tokens + 1,
        prompt_tokens + max(max_tokens, 1),
        WINDOW_SECONDS * 2,
        HOLD_SECONDS,
        *(c.limit for c in counters),
    ]
    try:
        redis = _redis(settings.REDIS_URL)
        result = _eval(redis, CHECK_SCRIPT, keys, args)
        if result[0] == 3:  # only the budget's key is ever missing
            _seed_budget(redis, client.account_id, budget)
            result = _eval(redis, CHECK_SCRIPT, keys, args)
    except RedisError as error:
        fail_open(error)
        return None
    status, value = int(result[0]), int(result[1])
    if status == 0:
        admission.reserved = value
        return admission
    if status == 3:  # expired again in between: this once, admit without counting
        return None
    if status in (1, 4):
        counter = (request_counters if status == 1 else token_counters)[value - 1]
        retry_after = max(1, math.ceil((minute + 1) * WINDOW_SECONDS - now))
        LIMITS_REFUSED.labels(limit="rate").inc()
        needs = (
            f"; this request needs {prompt_tokens + 1} tokens"
            if status == 4 and prompt_tokens + 1 > counter.limit
            else ""
        )
        raise LimitReached(
            f"rate limit reached ({counter.label}{needs}); retry in {retry_after}s",
            headers={"Retry-After": str(retry_after)},
        )
    resets = usage.next_month_start()
    retry_after = max(1, math.ceil(resets.timestamp() - now))
    LIMITS_REFUSED.labels(limit="budget").inc()
    raise LimitReached(
        f"the account's monthly token budget ({budget}) has no room for this request "
        f"({value} tokens used or reserved, this prompt needs about {prompt_tokens}); "
        f"it resets at {resets:%Y-%m-%dT%H:%M:%SZ}",
        code="budget_exhausted",
        headers={"Retry-After": str(retry_after)},
        details={"budget": budget, "used": value, "resets_at": resets.isoformat()},
    )


def _seed_budget(redis: Redis, account_id: int, budget: int | None) -> int:
    """Put the month's stored usage in Redis (unless another process just did)."""
    used = usage.tokens_this_month(account_id)
    if redis.set(budget_key(account_id), used, nx=True, ex=BUDGET_RESEED_SECONDS):
        _maybe_notify(account_id, budget, -1, used)
    return used


def settle(admission: Admission, tokens: int) -> None:
    """Replace the reservation with the tokens really used (per-minute counters and the
    budget); fail open."""
    settings = current_settings()
    keys = [*admission.token_keys, admission.budget_key, admission.held_key]
    args = [admission.reserved, tokens, WINDOW_SECONDS * 2, int(admission.budget is not None)]
    try:
        used: int = _eval(_redis(settings.REDIS_URL), SETTLE_SCRIPT, keys, args)
    except RedisError as error:
        fail_open(error)
        return
    if used >= 0:
        _maybe_notify(admission.account_id, admission.budget, used - tokens, used)


def _maybe_notify(account_id: int, budget: int | None, before: int, after: int) -> None:
    """Enqueue the month's one notice when this answer crossed 80% of the budget."""
    if budget is not None and budget_notices.crossed(budget, before, after):
        budget_notices.enqueue(account_id, budget, after)


def limits_now(account_id: int) -> dict[str, int | None]:
    """What the console and CLI show next to the usage: the budget and its use."""
    account = db.session.get(Account, account_id)
    used = usage.tokens_this_month(account_id)
    return {"budget": account.monthly_token_budget if account else None, "used": used}
