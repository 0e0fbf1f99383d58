"""Retiring deleted models: clients move, rows go, accounts hear once, the ledger records
the batch; dry runs, --fake, --force, and refusals change nothing they should not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from app.data_migrations import Batch, ledger
from app.errors import Conflict
from app.extensions import db
from app.llm.catalog import CATALOG, Catalog
from app.models import Account, LlmModel, Notification
from app.services import data_migrations
from app.services.accounts import create_account
from app.services.clients import create_client, parse_spec
from app.services.model_retirement import NAME, deleted_batch
from app.services.notifications import list_notifications
from tests.catalog_support import invoke, model_of, model_row, old_row, put_on
from tests.live import smtp_sink, webhook_receiver


def recorded() -> ledger.LedgerEntry | None:
    return ledger.get(db.session.connection(), NAME)


def notices() -> int:
    return db.session.scalar(select(func.count()).select_from(Notification))


def test_clients_move_to_the_replacement_and_the_row_goes(app, account, make_client):
    turbo = old_row("openai", "gpt-4-turbo")
    a, b = put_on(make_client(account, "a"), turbo), put_on(make_client(account, "b"), turbo)
    result = invoke(app, "models", "remove-deprecated")
    assert result.exit_code == 0, result.output
    assert (
        "removed openai/gpt-4-turbo, moved 2 clients in 1 account to openai/gpt-4.1 "
        "(its replacement)" in result.output
    )
    assert model_of(a) == model_of(b) == "openai/gpt-4.1"
    assert model_row("openai", "gpt-4-turbo") is None
    entry = recorded()
    assert entry is not None and entry.batch_hash == deleted_batch().hash
    assert ["openai", "gpt-4-turbo", "gpt-4.1"] in entry.items
    (notice,) = list_notifications(account)
    assert notice.kind == "model.removed"
    assert notice.subject == "Model gpt-4-turbo was retired: your clients now use gpt-4.1"
    assert "  - a\n  - b" in notice.body
    assert notice.data["models"] == [
        {"model": "openai/gpt-4-turbo", "replacement": "openai/gpt-4.1", "clients": ["a", "b"]}
    ]


def test_without_a_replacement_clients_get_their_providers_default(app, account, make_client):
    client = put_on(make_client(account, "old"), old_row("anthropic", "claude-2.0"))
    result = invoke(app, "models", "remove-deprecated")
    assert "to anthropic/claude-sonnet-4-6 (its provider's default)" in result.output
    assert model_of(client) == "anthropic/claude-sonnet-4-6"


def test_without_a_provider_default_clients_get_the_platform_default(app, account, make_client):
    client = put_on(make_client(account, "old"), old_row("mistral", "small"))
    catalog = Catalog.build(CATALOG.models, [("mistral", "small")])
    applied = data_migrations.apply(db.session.connection(), NAME, catalog=catalog)
    db.session.commit()
    assert applied.status == "ran"
    assert model_of(client) == "echo/echo-1"
    assert model_row("mistral", "small") is None


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        (
            Catalog.build(CATALOG.models, [("openai", "gpt-4-turbo", "gpt-9")]),
            "its replacement openai/gpt-9 does not exist",
        ),
        (
            Catalog.build(CATALOG.models, [("openai", "gpt-4-turbo", "gpt-5")]),
            "its replacement openai/gpt-5 is deprecated or deleted",
        ),
        (
            Catalog.build(
                CATALOG.models, [("openai", "gpt-4-turbo", "gpt-4o"), ("openai", "gpt-4o")]
            ),
            "its replacement openai/gpt-4o is deprecated or deleted",
        ),
    ],
)
def test_an_invalid_replacement_stops_the_run_before_any_change(
    app, account, make_client, catalog, message
):
    old_row("openai", "gpt-5", 400_000)
    unaffected = put_on(make_client(account, "fine"), old_row("anthropic", "claude-2.0"))
    client = put_on(make_client(account, "old"), old_row("openai", "gpt-4-turbo"))
    with pytest.raises(Conflict, match=message):
        data_migrations.apply(db.session.connection(), NAME, catalog=catalog)
    db.session.rollback()
    assert model_of(client) == "openai/gpt-4-turbo"
    assert model_of(unaffected) == "anthropic/claude-2.0"
    assert recorded() is None and notices() == 0


def test_the_command_refuses_a_missing_replacement_and_changes_nothing(app, account, make_client):
    client = put_on(make_client(account, "old"), old_row("openai", "gpt-4-turbo"))
    db.session.execute(delete(LlmModel).where(LlmModel.name == "gpt-4.1"))
    db.session.commit()
    result = invoke(app, "models", "remove-deprecated")
    assert result.exit_code == 1
    assert "nothing was changed: openai/gpt-4-turbo: its replacement openai/gpt-4.1" in (
        result.output
    )
    assert "flask models sync" in result.output
    assert model_of(client) == "openai/gpt-4-turbo"
    assert recorded() is None and notices() == 0


@dataclass
class Notifying:
    """An app that notifies by webhook and email, and two accounts on deleted models."""

    app: Flask
    hooks: list[dict]
    mails: list
    acme: Account  # contact ops@acme.test; clients a (gpt-4-turbo) and b (claude-2.0)
    beta: Account  # no contact email; client c (gpt-4-turbo)


@pytest.fixture
def notifying(make_app, app) -> Iterator[Notifying]:
    with webhook_receiver() as (hook_url, hooks), smtp_sink() as (smtp_url, mails):
        notifying_app = make_app(NOTIFY_WEBHOOK_URL=hook_url, NOTIFY_SMTP_URL=smtp_url)
        with notifying_app.app_context():
            acme = create_account("Acme", contact_email="ops@acme.test")
            beta = create_account("Beta")
            turbo, claude = old_row("openai", "gpt-4-turbo"), old_row("anthropic", "claude-2.0")
            for account, name, model in [
                (acme, "a", turbo),
                (acme, "b", claude),
                (beta, "c", turbo),
            ]:
                put_on(create_client(account, parse_spec(name=name)), model)
            yield Notifying(notifying_app, hooks, mails, acme, beta)


def test_dry_run_previews_everything_and_changes_nothing(notifying):
    acme, beta = notifying.acme, notifying.beta
    for run in range(2):  # before and after the migration ran: the same preview
        result = invoke(notifying.app, "models", "remove-deprecated", "--dry-run", "-v", "2")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[1] == (
            "would remove openai/gpt-4-turbo, moving 2 clients in 2 accounts to "
            "openai/gpt-4.1 (its replacement)"
        )
        assert f"    {acme.account_number} Acme: a" in lines
        assert "        would tell: console, email ops@acme.test, webhook" in lines
        assert f"    {beta.account_number} Beta: c" in lines
        assert "        would tell: console, webhook" in lines
        assert "would tell 2 accounts" in lines
        assert lines[-1] == "dry run: nothing was changed"
        assert model_row("openai", "gpt-4-turbo") is not None
        assert notices() == 0 and not notifying.hooks and not notifying.mails
        if run == 0:
            assert "ledger: never applied here" in lines
            invoke(notifying.app, "models", "remove-deprecated", "--fake")
        else:
            assert "without --force the run is skipped" in result.output


def test_each_affected_account_is_told_once(notifying):
    acme, beta, hooks, mails = notifying.acme, notifying.beta, notifying.hooks, notifying.mails
    calm = create_account("Calm")
    create_client(calm, parse_spec(name="d"))
    result = invoke(notifying.app, "models", "remove-deprecated")
    assert result.exit_code == 0, result.output
    assert "told 2 accounts" in result.output
    assert sorted(h["account"] for h in hooks) == sorted([acme.account_number, beta.account_number])
    acme_hook = next(h for h in hooks if h["account"] == acme.account_number)
    assert acme_hook["subject"] == "2 models were retired: your clients now use replacements"
    assert [m["model"] for m in acme_hook["data"]["models"]] == [
        "openai/gpt-4-turbo",
        "anthropic/claude-2.0",
    ]
    assert [m["To"] for m in mails] == ["ops@acme.test"]
    assert list_notifications(calm) == []

    # A straggler on a removed model (the row back, a client on it): the run
    # moves it, and its account, already told about this batch, is not told again.
    put_on(create_client(acme, parse_spec(name="e")), old_row("openai", "gpt-4-turbo"))
    again = invoke(notifying.app, "models", "remove-deprecated", "--force")
    assert "told 0 accounts (1 already told about this batch)" in again.output
    assert len(hooks) == 2 and len(mails) == 1
    assert len(list_notifications(acme)) == 1


def test_fake_marks_the_batch_applied_and_unmark_lets_it_run(app, account, make_client):
    client = put_on(make_client(account, "old"), old_row("openai", "gpt-4-turbo"))
    faked = invoke(app, "models", "remove-deprecated", "--fake")
    assert f"{NAME}: marked applied for batch {deleted_batch().hash[:12]}" in faked.output
    assert model_of(client) == "openai/gpt-4-turbo"
    assert recorded().faked
    skipped = invoke(app, "models", "remove-deprecated")
    assert "already marked applied" in skipped.output and "--force runs it again" in skipped.output
    listing = invoke(app, "data-migrations", "list").output
    assert f"{NAME}: marked applied" in listing
    assert invoke(app, "data-migrations", "unmark", NAME).exit_code == 0
    assert "pending (never applied)" in invoke(app, "data-migrations", "list").output
    ran = invoke(app, "models", "remove-deprecated")
    assert "removed openai/gpt-4-turbo" in ran.output
    assert model_of(client) == "openai/gpt-4.1"
    assert not recorded().faked


def test_force_runs_an_applied_batch_again(app, account, make_client):
    assert invoke(app, "models", "remove-deprecated").exit_code == 0
    client = put_on(make_client(account, "late"), old_row("openai", "gpt-4-turbo"))
    assert "already applied" in invoke(app, "models", "remove-deprecated").output
    assert model_of(client) == "openai/gpt-4-turbo"
    forced = invoke(app, "models", "remove-deprecated", "--force")
    assert "removed openai/gpt-4-turbo" in forced.output
    assert model_of(client) == "openai/gpt-4.1"


def test_a_new_batch_is_pending_until_it_runs(app, account, make_client):
    older = Batch.of([["openai", "gpt-3.5-turbo", "gpt-4o-mini"]])
    ledger.record(db.session.connection(), NAME, older)
    db.session.commit()
    assert "the current batch is pending" in invoke(app, "data-migrations", "list").output
    client = put_on(make_client(account, "old"), old_row("openai", "gpt-4-turbo"))
    dry = invoke(app, "models", "remove-deprecated", "--dry-run")
    assert "an older batch was applied" in dry.output
    result = invoke(app, "models", "remove-deprecated")  # no --force needed
    assert "removed openai/gpt-4-turbo" in result.output
    assert model_of(client) == "openai/gpt-4.1"
    assert recorded().covers(deleted_batch())


def test_data_migrations_commands(app):
    assert "pending (never applied)" in invoke(app, "data-migrations", "list").output
    marked = invoke(app, "data-migrations", "mark", NAME)
    assert marked.exit_code == 0 and "marked applied" in marked.output
    assert NAME in invoke(app, "data-migrations", "list", "--name", "deprecated").output
    none = invoke(app, "data-migrations", "list", "--name", "zzz")
    assert "no data migrations matching 'zzz'" in none.output
    unknown = invoke(app, "data-migrations", "mark", "nope")
    assert unknown.exit_code == 2 and f"known: {NAME}" in unknown.output
    assert invoke(app, "data-migrations", "unmark", NAME).exit_code == 0
    again = invoke(app, "data-migrations", "unmark", NAME)
    assert again.exit_code == 1 and "not in the ledger" in again.output


def test_dry_run_and_fake_exclude_each_other(app):
    result = invoke(app, "models", "remove-deprecated", "--dry-run", "--fake")
    assert result.exit_code == 2
    assert recorded() is None


# --- notify-deprecated -----------------------------------------------------------------


def test_notify_deprecated_tells_each_account_once_per_model(make_app, app):
    with webhook_receiver() as (hook_url, hooks):
        notifying = make_app(NOTIFY_WEBHOOK_URL=hook_url)
        with notifying.app_context():
            acme, beta = create_account("Acme"), create_account("Beta")
            gpt5 = old_row("openai", "gpt-5", 400_000)
            for account, name in [(acme, "a"), (acme, "b"), (beta, "c")]:
                put_on(create_client(account, parse_spec(name=name)), gpt5)
            create_client(beta, parse_spec(name="fine", model="gpt-5.4"))
            first = invoke(notifying, "models", "notify-deprecated")
            assert first.exit_code == 0, first.output
            assert f"told {acme.account_number} about openai/gpt-5: a, b" in first.output
            assert f"told {beta.account_number} about openai/gpt-5: c" in first.output
            assert len(hooks) == 2
            (notice,) = list_notifications(acme)
            assert notice.subject == "Model gpt-5 is deprecated: your clients will move to gpt-5.4"
            assert "  - a\n  - b" in notice.body
            second = invoke(notifying, "models", "notify-deprecated")
            assert f"{acme.account_number} already told about openai/gpt-5" in second.output
            assert len(hooks) == 2
            assert len(list_notifications(acme)) == 1
