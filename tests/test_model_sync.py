"""The models table: synced from the catalog (additive, idempotent), guarded by the
database, listed by the CLI, and the only source of a new client's model."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.llm.catalog import CATALOG, Catalog, Model
from app.models import LlmClient, LlmModel
from tests.catalog_support import invoke, model_row, old_row, put_on, sync


def table() -> set[tuple]:
    rows = db.session.execute(
        select(
            LlmModel.provider,
            LlmModel.name,
            LlmModel.token_limit,
            LlmModel.deprecated,
            LlmModel.is_default,
        )
    )
    return {tuple(row) for row in rows}


def test_sync_creates_the_live_catalog_and_is_idempotent(app):
    expected = {
        (provider, m.name, m.token_limit, False, m.is_default)
        for provider, models in CATALOG.models.items()
        for m in models
        if not m.deprecated
    }
    assert table() == expected  # what the migrated (and re-synced) test database holds
    report = sync()
    assert not report.changed
    assert table() == expected
    result = invoke(app, "models", "sync")
    assert result.exit_code == 0
    assert "nothing to do" in result.output


def test_sync_updates_limits_flags_and_defaults_and_never_deletes(app, account, make_client):
    custom = LlmModel(provider="openai", name="llama3")  # kept from before the catalog
    put_on(make_client(account, "bot"), custom)
    openai = [
        Model("gpt-4.1", 1_047_576, is_default=True),
        Model("gpt-4o", 200_000, deprecated=True, replacement="gpt-4.1"),
        Model("gpt-6", 2_000_000),
        Model("gpt-7", 2_000_000, deprecated=True, replacement="gpt-6"),
    ]
    report = sync(Catalog(models={**CATALOG.models, "openai": openai}))
    assert sorted(report.lines()) == [
        "created openai/gpt-6",
        "updated openai/gpt-4.1-mini: no longer default",
        "updated openai/gpt-4.1: default",
        "updated openai/gpt-4o: token_limit 128000 -> 200000, deprecated",
    ]
    assert model_row("openai", "gpt-7") is None  # deprecated: nobody may choose it
    for unlisted in ("gpt-4o-mini", "gpt-5.4", "llama3"):  # never deleted
        assert model_row("openai", unlisted) is not None
    default = db.session.scalar(
        select(LlmModel.name).where(LlmModel.provider == "openai", LlmModel.is_default)
    )
    assert default == "gpt-4.1"
    assert not sync(Catalog(models={**CATALOG.models, "openai": openai})).changed


def test_sync_marks_deleted_models_still_present_deprecated(app):
    row = LlmModel(provider="openai", name="gpt-4-turbo", token_limit=128_000)
    db.session.add(row)
    db.session.commit()
    assert sync().lines() == ["updated openai/gpt-4-turbo: deprecated"]
    assert model_row("openai", "gpt-4-turbo").deprecated


def test_sync_refuses_an_inconsistent_catalog(app):
    bad = Catalog(models={**CATALOG.models, "openai": [Model("a", 1), Model("b", 1)]})
    before = table()
    with pytest.raises(Exception, match="0 default models"):
        sync(bad)
    db.session.rollback()
    assert table() == before


def test_the_database_enforces_unique_names_one_default_and_no_model_loss(
    app, account, make_client
):
    db.session.add(LlmModel(provider="openai", name="gpt-4.1", token_limit=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(LlmModel(provider="openai", name="other", token_limit=1, is_default=True))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    client = make_client(account, "bot", model="gpt-4.1")
    with pytest.raises(IntegrityError):  # ON DELETE RESTRICT: a model in use stays
        db.session.execute(delete(LlmModel).where(LlmModel.id == client.llm_model_id))
    db.session.rollback()
    assert model_row("openai", "gpt-4.1") is not None


# --- choosing a client's model ---------------------------------------------------------


def test_a_new_client_gets_the_platform_or_the_providers_default(app, account):
    number = account.account_number
    assert invoke(app, "clients", "create", "plain", "--account", number).exit_code == 0
    created = invoke(app, "clients", "create", "gpt", "--account", number, "--provider", "openai")
    assert created.exit_code == 0
    by_name = {c.name: (c.provider, c.model) for c in db.session.scalars(select(LlmClient)).all()}
    assert by_name == {"plain": ("echo", "echo-1"), "gpt": ("openai", "gpt-4.1-mini")}


def test_a_model_named_alone_brings_its_provider(app, account):
    result = invoke(
        app, "clients", "create", "opus", "--account", account.account_number,
        "--model", "claude-opus-4-7",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = invoke(app, "clients", "show", "opus", "--account", account.account_number)
    assert "provider:         anthropic" in shown.output
    assert "model:            claude-opus-4-7" in shown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "gpt-9"], "unknown model 'gpt-9'; choose one of: anthropic/claude-haiku"),
        (
            ["--provider", "openai", "--model", "gpt-9"],
            "unknown model 'gpt-9' for provider openai; choose one of: gpt-4.1, gpt-4.1-mini",
        ),
        (["--model", "gpt-5"], "model openai/gpt-5 is deprecated; use gpt-5.4"),
        (["--model", "gpt-4-turbo"], "model openai/gpt-4-turbo was deleted; use gpt-4.1"),
        (
            ["--model", "claude-2.0"],
            "model anthropic/claude-2.0 was deleted; use claude-sonnet-4-6",
        ),
        (["--provider", "echo", "--model", "gpt-4.1"], "for provider echo; choose one of: echo-1"),
    ],
)
def test_unknown_deleted_and_deprecated_models_are_refused(app, account, args, message):
    result = invoke(app, "clients", "create", "bot", "--account", account.account_number, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(LlmClient)) == 0


# --- listing ---------------------------------------------------------------------------


def test_models_list_filters_and_marks(app, account, make_client):
    put_on(make_client(account, "bot"), old_row("openai", "gpt-5", 400_000))
    listing = invoke(app, "models", "list", "--provider", "openai").output
    assert "gpt-4.1-mini" in listing and "default" in listing
    assert "claude" not in listing and "echo-1" not in listing
    deprecated = invoke(app, "models", "list", "--deprecated").output.splitlines()
    assert len(deprecated) == 2
    assert deprecated[1].split() == [
        "openai",
        "gpt-5",
        "400,000",
        "1",
        "deprecated:",
        "use",
        "gpt-5.4",
    ]


def test_models_usage_says_which_client_uses_what(app, account, make_client):
    put_on(make_client(account, "old"), old_row("openai", "gpt-5", 400_000))
    make_client(account, "new", model="gpt-5.4")
    text = invoke(app, "models", "usage").output
    assert "openai/gpt-5 [deprecated: use gpt-5.4]: 1 client" in text
    assert "openai/gpt-5.4: 1 client" in text
    only = invoke(app, "models", "usage", "--deprecated-only").output
    assert "old" in only and "gpt-5.4:" not in only
    rows = list(csv.DictReader(io.StringIO(invoke(app, "models", "usage", "--csv").output)))
    assert [(r["client"], r["model"], r["deprecated"], r["replacement"]) for r in rows] == [
        ("old", "gpt-5", "True", "gpt-5.4"),
        ("new", "gpt-5.4", "False", ""),
    ]
    assert rows[0]["account"] == account.account_number
