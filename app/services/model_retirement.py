"""Retiring deleted models (data migration ``remove_deprecated_models``).

One transaction: collect the clients of every ``DELETED_MODELS`` row per account, check
every target (a replacement that does not exist, or is itself deprecated or deleted,
stops the run before any change), move each client to its model's successor (the
entry's replacement, else its provider's default model, else the platform default, so
no client is ever left without a model), delete the rows, store one notice per affected
account. The caller commits, then delivers the notices. Written with Core on the tables
of ``app.data_migrations.tables``, because Alembic revisions run it too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from app.data_migrations.ledger import Batch
from app.data_migrations.notices import record_notice
from app.data_migrations.runner import DataMigration
from app.data_migrations.tables import accounts, llm_clients, llm_models
from app.errors import Conflict
from app.llm.catalog import CATALOG, Catalog, DeletedModel, ModelRef, platform_default
from app.models.common import utcnow
from app.services.notifications import delivery_channels

NAME = "remove_deprecated_models"
NOTICE_KIND = "model.removed"


@dataclass(frozen=True)
class AffectedAccount:
    """An account with clients on a model being removed."""

    id: int
    number: str
    name: str
    contact_email: str | None
    clients: tuple[tuple[int, str], ...]  # (id, name)

    @property
    def client_names(self) -> list[str]:
        return [name for _, name in self.clients]


@dataclass(frozen=True)
class Retirement:
    """One deleted model that still has a row: where its clients go."""

    entry: DeletedModel
    model_id: int
    target: ModelRef
    target_id: int
    accounts: tuple[AffectedAccount, ...]

    @property
    def client_ids(self) -> list[int]:
        return [client_id for a in self.accounts for client_id, _ in a.clients]

    @property
    def why(self) -> str:
        if self.entry.replacement:
            return "its replacement"
        same = self.target.provider == self.entry.provider
        return "its provider's default" if same else "the platform default"


@dataclass(frozen=True)
class RemovalPlan:
    batch: Batch
    entries: tuple[DeletedModel, ...]
    retirements: tuple[Retirement, ...]

    def accounts(self) -> list[tuple[AffectedAccount, list[Retirement]]]:
        """Each affected account once, with the retirements that touch it."""
        by_id: dict[int, tuple[AffectedAccount, list[Retirement]]] = {}
        for retirement in self.retirements:
            for account in retirement.accounts:
                by_id.setdefault(account.id, (account, []))[1].append(retirement)
        return sorted(by_id.values(), key=lambda pair: pair[0].number)

    def report(self, verbosity: int, *, told: int | None = None) -> list[str]:
        """The plan in words; ``told`` (notices stored) once it ran, None for a preview."""
        done = told is not None
        remove, move, tell = (
            ("removed", "moved", "told") if done else ("would remove", "moving", "would tell")
        )
        lines = [
            f"{NAME}: {len(self.entries)} entries in DELETED_MODELS (batch "
            f"{self.batch.hash[:12]}), {len(self.retirements)} of them still in the database"
        ]
        if not self.retirements:
            return [*lines, "nothing to remove"]
        if verbosity >= 1:
            for r in self.retirements:
                lines.append(
                    f"{remove} {r.entry.ref}, {move} {_count(len(r.client_ids), 'client')} in "
                    f"{_count(len(r.accounts), 'account')} to {r.target} ({r.why})"
                )
                if verbosity >= 2:
                    lines += _account_lines(r.accounts, tell)
        affected = len(self.accounts())
        summary = f"{tell} {_count(affected if told is None else told, 'account')}"
        if told is not None and told < affected:
            summary += f" ({affected - told} already told about this batch)"
        return [*lines, summary]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _account_lines(affected: tuple[AffectedAccount, ...], tell: str) -> list[str]:
    lines = []
    for account in affected:
        lines.append(f"    {account.number} {account.name}: {', '.join(account.client_names)}")
        lines.append(f"        {tell}: {', '.join(delivery_channels(account.contact_email))}")
    return lines


@dataclass
class RemovalOutcome:
    plan: RemovalPlan
    notice_ids: list[int] = field(default_factory=list)

    @property
    def details(self) -> dict[str, Any]:
        """What the ledger keeps of the run."""
        return {
            "removed": [
                {
                    "model": str(r.entry.ref),
                    "replacement": str(r.target),
                    "clients": len(r.client_ids),
                }
                for r in self.plan.retirements
            ],
            "accounts_notified": len(self.notice_ids),
        }

    def report(self, verbosity: int) -> list[str]:
        return self.plan.report(verbosity, told=len(self.notice_ids))


def deleted_batch(catalog: Catalog = CATALOG, **_: Any) -> Batch:
    """The ``DELETED_MODELS`` entries as the ledger's batch."""
    return Batch.of(entry.as_list() for entry in catalog.deleted)


def plan_removal(
    connection: Connection,
    catalog: Catalog = CATALOG,
    platform_default_model: ModelRef | None = None,
) -> RemovalPlan:
    """What the removal would do; raises ``Conflict`` (changing nothing) on a bad target."""
    fallback = platform_default_model or platform_default()
    rows = {
        ModelRef(r["provider"], r["name"]): r
        for r in connection.execute(select(llm_models)).mappings()
    }
    found, problems = [], []
    for entry in catalog.deleted:
        if entry.ref not in rows:
            continue
        target = catalog.successor(entry.ref, fallback)
        target_row = rows.get(target)
        if target_row is None:
            problems.append(
                f"{entry.ref}: its replacement {target} does not exist "
                "(flask models sync creates the catalog's models)"
            )
        elif target_row["deprecated"] or catalog.is_retired(target.provider, target.name):
            problems.append(f"{entry.ref}: its replacement {target} is deprecated or deleted")
        else:
            found.append((entry, rows[entry.ref]["id"], target, target_row["id"]))
    if problems:
        raise Conflict("nothing was changed: " + "; ".join(problems))
    affected = _affected_accounts(connection, [model_id for _, model_id, _, _ in found])
    return RemovalPlan(
        batch=deleted_batch(catalog),
        entries=catalog.deleted,
        retirements=tuple(
            Retirement(entry, model_id, target, target_id, tuple(affected.get(model_id, ())))
            for entry, model_id, target, target_id in found
        ),
    )


def _affected_accounts(
    connection: Connection, model_ids: list[int]
) -> dict[int, list[AffectedAccount]]:
    """Per model id, the accounts with clients on it (by account number, client name)."""
    if not model_ids:
        return {}
    rows = connection.execute(
        select(
            llm_clients.c.llm_model_id,
            llm_clients.c.id.label("client_id"),
            llm_clients.c.name.label("client_name"),
            accounts.c.id.label("account_id"),
            accounts.c.account_number,
            accounts.c.name.label("account_name"),
            accounts.c.contact_email,
        )
        .join(accounts, accounts.c.id == llm_clients.c.account_id)
        .where(llm_clients.c.llm_model_id.in_(model_ids))
        .order_by(accounts.c.account_number, llm_clients.c.name)
    )
    grouped: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for row in rows:
        grouped[(row.llm_model_id, row.account_id)].append(row)
    affected: dict[int, list[AffectedAccount]] = defaultdict(list)
    for (model_id, _), clients in grouped.items():
        first = clients[0]
        affected[model_id].append(
            AffectedAccount(
                id=first.account_id,
                number=first.account_number,
                name=first.account_name,
                contact_email=first.contact_email,
                clients=tuple((c.client_id, c.client_name) for c in clients),
            )
        )
    return affected


def execute_removal(connection: Connection, plan: RemovalPlan) -> RemovalOutcome:
    """Move the clients, delete the rows, store the notices: in the caller's transaction."""
    now = utcnow()
    try:
        for r in plan.retirements:
            if r.client_ids:
                connection.execute(
                    update(llm_clients)
                    .where(
                        llm_clients.c.id.in_(r.client_ids),
                        llm_clients.c.llm_model_id == r.model_id,
                    )
                    .values(llm_model_id=r.target_id, updated_at=now)
                )
            connection.execute(delete(llm_models).where(llm_models.c.id == r.model_id))
    except IntegrityError as error:  # ON DELETE RESTRICT: a client appeared meanwhile
        raise Conflict(
            "a client was put on a model being removed while the removal ran; nothing was "
            "changed: run it again"
        ) from error
    outcome = RemovalOutcome(plan)
    for account, retirements in plan.accounts():
        notice_id = record_notice(
            connection,
            account.id,
            NOTICE_KIND,
            *_notice_text(account, retirements),
            data=_notice_data(account, retirements, plan.batch),
            dedupe_key=f"models-removed:{plan.batch.hash}",
        )
        if notice_id is not None:
            outcome.notice_ids.append(notice_id)
    return outcome


def _clients_of(account: AffectedAccount, retirement: Retirement) -> list[str]:
    return next(a.client_names for a in retirement.accounts if a.id == account.id)


def _notice_text(account: AffectedAccount, retirements: list[Retirement]) -> tuple[str, str]:
    if len(retirements) == 1:
        (r,) = retirements
        subject = f"Model {r.entry.name} was retired: your clients now use {r.target.name}"
    else:
        subject = f"{len(retirements)} models were retired: your clients now use replacements"
    paragraphs = [
        f"{r.entry.ref} is no longer offered by its provider. These clients now use "
        f"{r.target}:\n" + "\n".join(f"  - {name}" for name in _clients_of(account, r))
        for r in retirements
    ]
    paragraphs.append("Nothing else changed: their prompts, keys and addresses stay the same.")
    return subject, "\n\n".join(paragraphs)


def _notice_data(
    account: AffectedAccount, retirements: list[Retirement], batch: Batch
) -> dict[str, Any]:
    return {
        "batch": batch.hash,
        "models": [
            {
                "model": str(r.entry.ref),
                "replacement": str(r.target),
                "clients": _clients_of(account, r),
            }
            for r in retirements
        ],
    }


REMOVE_DEPRECATED_MODELS = DataMigration(
    name=NAME,
    command="flask models remove-deprecated",
    description="Move the clients of DELETED_MODELS to their replacements, delete those "
    "models' rows, tell each affected account.",
    batch=deleted_batch,
    plan=plan_removal,
    execute=execute_removal,
)
