"""Usage aggregates: one row per day, client, API key, model and shard, incremented as
each chat turn is stored (never computed from ``chat_messages`` at read time).

``shard`` spreads concurrent increments of the same (day, client, key, model) over a few
rows so requests do not queue on one hot counter row; readers sum the shards.
``origin`` and ``end_user`` are "" when the request had none.
``api_key_id`` is 0 for requests without a key (a unique key cannot contain NULL).
``client_id`` has no foreign key: an account's usage this month must survive the
deletion of one of its clients (its budget would reset otherwise).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model

USAGE_SHARDS = 8
# Upper bounds (ms) of the latency histogram's buckets; the last bucket is "above".
LATENCY_BUCKETS_MS = (250, 1000, 5000)


class UsageDaily(Model):
    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint(
            "day",
            "client_id",
            "api_key_id",
            "model",
            "origin",
            "end_user",
            "shard",
            name="uq_usage_row",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int] = mapped_column(Integer)
    client_name: Mapped[str] = mapped_column(String(63))
    api_key_id: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(200))
    # The browser origin the request came from ("" when none: a server) and the widget's
    # identified user ("" when anonymous): usage can be read by site and by user.
    origin: Mapped[str] = mapped_column(String(255), default="", server_default="")
    end_user: Mapped[str] = mapped_column(String(128), default="", server_default="")
    shard: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_total: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_le_250: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_le_1000: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_le_5000: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_over: Mapped[int] = mapped_column(BigInteger, default=0)
    # Requests refused (429) before the model was asked: by the monthly budget, or by a
    # per-minute limit of the client or the key. Not in ``requests``.
    refused_budget: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refused_rate: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
