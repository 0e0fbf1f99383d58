"""One page of a list, read in SQL: ``LIMIT``/``OFFSET`` for the rows and ``COUNT`` for the
total, so that a list never loads every row (nor a capped "latest N") to slice it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db

AnySelect = Select[*tuple[Any, ...]]  # a query of any columns


@dataclass(frozen=True)
class Page:
    """The rows of page ``page`` (from 1) of ``per_page`` rows, and how many there are."""

    items: list[Any]
    page: int
    per_page: int
    total: int


def page_of(query: AnySelect, page: int, per_page: int) -> Page:
    """Page ``page`` of ``query`` (which must be ordered, for stable pages): its entities
    when it selects one thing, else its rows."""
    total = db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    result = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    rows = result.scalars().all() if len(query.column_descriptions) == 1 else result.all()
    return Page(list(rows), page, per_page, total)
