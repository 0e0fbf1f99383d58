"""Usage aggregates: incremented in the chat turn's own transaction, read by the CLI,
the console and the budget check.

A request refused by a limit (429) counts too, in ``refused_budget`` or ``refused_rate``
(not in ``requests``): :func:`record_refusal`, one short transaction of its own.

The increment is one ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL alike)
on a row chosen by (day, client, key, model, random shard): correct across processes and
machines with no read-modify-write, and concurrent requests of one client rarely wait on
the same row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.logging_setup import get_logger
from app.models import ApiKey
from app.models.usage import LATENCY_BUCKETS_MS, USAGE_SHARDS, UsageDaily

TABLE = UsageDaily.__table__
log = get_logger("chatdock.usage")
COUNTERS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms_total",
    "latency_le_250",
    "latency_le_1000",
    "latency_le_5000",
    "latency_over",
    "refused_budget",
    "refused_rate",
)
BUCKETS = ("latency_le_250", "latency_le_1000", "latency_le_5000", "latency_over")
GROUPINGS = ("day", "client", "key", "model", "origin", "user")


def _latency_bucket(latency_ms: int) -> str:
    for bound in LATENCY_BUCKETS_MS:
        if latency_ms <= bound:
            return f"latency_le_{bound}"
    return "latency_over"


def _upsert(dialect: str) -> Any:
    """The increment statement, built once per dialect: every counter is added (zeros
    too), so one statement (and one compiled form in SQLAlchemy's cache) serves all."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(TABLE).values({name: bindparam(name) for name in (*_KEY, *COUNTERS)})
    return statement.on_conflict_do_update(
        index_elements=["day", "client_id", "api_key_id", "model", "origin", "end_user", "shard"],
        set_={name: TABLE.c[name] + statement.excluded[name] for name in COUNTERS},
    )


_KEY = (
    "day",
    "account_id",
    "client_id",
    "client_name",
    "api_key_id",
    "model",
    "origin",
    "end_user",
    "shard",
)
_UPSERTS = {dialect: _upsert(dialect) for dialect in ("postgresql", "sqlite")}


def increment_statement(dialect: str) -> Any:
    """The prebuilt increment of one aggregate row, for ``dialect``; its values are
    :func:`increment` (a caller may add CTEs: the chat writes its turn in the same
    statement)."""
    return _UPSERTS[dialect]


def record(connection: Connection, **request: Any) -> None:
    """Add one request to its aggregate row, in the caller's transaction (not committed)."""
    connection.execute(increment_statement(connection.dialect.name), increment(**request))


def increment(
    *,
    account_id: int,
    client_id: int,
    client_name: str,
    api_key_id: int | None,
    model: str,
    origin: str | None = None,
    end_user: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    latency_ms: int = 0,
    error: bool = False,
    day: date | None = None,
    refused: str | None = None,
) -> dict[str, Any]:
    """The values that add one request to its aggregate row (a random shard of it);
    ``refused`` ("budget" or "rate"): a refusal, counted apart from the requests served."""
    counts = (
        {f"refused_{refused}": 1}
        if refused
        else {
            "requests": 1,
            "errors": int(error),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "latency_ms_total": latency_ms,
            _latency_bucket(latency_ms): 1,
        }
    )
    return (
        dict.fromkeys(COUNTERS, 0)
        | counts
        | {
            "day": day or datetime.now(UTC).date(),
            "account_id": account_id,
            "client_id": client_id,
            "client_name": client_name,
            "api_key_id": api_key_id or 0,
            "model": model,
            "origin": origin or "",
            "end_user": end_user or "",
            "shard": random.randrange(USAGE_SHARDS),
        }
    )


def record_refusal(
    *,
    account_id: int,
    client_id: int,
    client_name: str,
    api_key_id: int | None,
    model: str,
    budget: bool,
    origin: str | None = None,
    end_user: str | None = None,
) -> None:
    """Count one request refused by a limit (429): the budget, or a per-minute limit.
    One upsert in a short transaction of its own (the chat request holds none at that
    point); a database that cannot take it only logs: the refusal is answered anyway."""
    try:
        with db.engine.begin() as connection:
            record(
                connection,
                account_id=account_id,
                client_id=client_id,
                client_name=client_name,
                api_key_id=api_key_id,
                model=model,
                origin=origin,
                end_user=end_user,
                refused="budget" if budget else "rate",
            )
    except SQLAlchemyError as error:
        log.warning("refusal_not_counted", client_id=client_id, error=type(error).__name__)


def month_start(moment: datetime | None = None) -> date:
    moment = moment or datetime.now(UTC)
    return moment.date().replace(day=1)


def next_month_start(moment: datetime | None = None) -> datetime:
    first = month_start(moment)
    year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def tokens_this_month(account_id: int, moment: datetime | None = None) -> int:
    """Prompt + completion tokens of the account since the first of the month (UTC)."""
    total = db.session.execute(
        select(func.coalesce(func.sum(TABLE.c.prompt_tokens + TABLE.c.completion_tokens), 0)).where(
            TABLE.c.account_id == account_id, TABLE.c.day >= month_start(moment)
        )
    ).scalar_one()
    return int(total)


@dataclass(frozen=True)
class UsageRow:
    """One line of a usage report: the grouping's value and the sums."""

    group: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms_avg: int
    latency_p50_ms: str
    latency_p95_ms: str
    refused_budget: int = 0
    refused_rate: int = 0

    @property
    def refused(self) -> int:
        return self.refused_budget + self.refused_rate

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "requests": self.requests,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "latency_ms_avg": self.latency_ms_avg,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "refused_budget": self.refused_budget,
            "refused_rate": self.refused_rate,
        }


def _percentile(buckets: list[int], share: float) -> str:
    """The histogram bucket holding the ``share`` quantile, as "<=250" or ">5000"."""
    total = sum(buckets)
    if not total:
        return "-"
    running = 0
    for bound, count in zip((*LATENCY_BUCKETS_MS, None), buckets, strict=True):
        running += count
        if running >= share * total:
            return f"<={bound}" if bound is not None else f">{LATENCY_BUCKETS_MS[-1]}"
    return "-"


def report(
    *,
    account_id: int | None = None,
    client_id: int | None = None,
    since: date | None = None,
    by: str = "day",
) -> list[UsageRow]:
    """Sums of the aggregates, grouped ``by`` day, client, key, model, browser origin or
    identified user."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    column = {
        "day": TABLE.c.day,
        "client": TABLE.c.client_name,
        "key": TABLE.c.api_key_id,
        "model": TABLE.c.model,
        "origin": TABLE.c.origin,
        "user": TABLE.c.end_user,
    }[by]
    sums = [func.coalesce(func.sum(TABLE.c[name]), 0) for name in COUNTERS]
    query = select(column, *sums).group_by(column).order_by(column)
    if account_id is not None:
        query = query.where(TABLE.c.account_id == account_id)
    if client_id is not None:
        query = query.where(TABLE.c.client_id == client_id)
    if since is not None:
        query = query.where(TABLE.c.day >= since)
    rows = []
    key_ids = _key_ids() if by == "key" else {}
    for group, *values in db.session.execute(query).all():
        counts = dict(zip(COUNTERS, (int(v) for v in values), strict=True))
        buckets = [counts[name] for name in BUCKETS]
        label = str(group)
        if by == "key":
            label = key_ids.get(group, "(no key)") if group else "(no key)"
        elif by in ("origin", "user") and not group:
            label = "(none)"
        rows.append(
            UsageRow(
                group=label,
                requests=counts["requests"],
                errors=counts["errors"],
                prompt_tokens=counts["prompt_tokens"],
                completion_tokens=counts["completion_tokens"],
                latency_ms_avg=counts["latency_ms_total"] // max(counts["requests"], 1),
                latency_p50_ms=_percentile(buckets, 0.5),
                latency_p95_ms=_percentile(buckets, 0.95),
                refused_budget=counts["refused_budget"],
                refused_rate=counts["refused_rate"],
            )
        )
    return rows


def _key_ids() -> dict[int, str]:
    return dict(db.session.execute(select(ApiKey.id, ApiKey.key_id)).all())


def daily_by_client(
    *, account_id: int, since: date, client_id: int | None = None
) -> dict[str, dict[str, dict[str, int]]]:
    """{client: {day: {"requests", "tokens"}}}: what the console's charts draw."""
    query = (
        select(
            TABLE.c.client_name,
            TABLE.c.day,
            func.sum(TABLE.c.requests),
            func.sum(TABLE.c.prompt_tokens + TABLE.c.completion_tokens),
        )
        .where(TABLE.c.account_id == account_id, TABLE.c.day >= since)
        .group_by(TABLE.c.client_name, TABLE.c.day)
        .order_by(TABLE.c.day)
    )
    if client_id is not None:
        query = query.where(TABLE.c.client_id == client_id)
    series: dict[str, dict[str, dict[str, int]]] = {}
    for name, day, requests, tokens in db.session.execute(query).all():
        series.setdefault(name, {})[day.isoformat()] = {
            "requests": int(requests),
            "tokens": int(tokens),
        }
    return series
