"""Helpers of the model-catalog tests: old model rows, clients on them, the CLI."""

from __future__ import annotations

from click.testing import Result
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.llm.catalog import CATALOG, Catalog, Model
from app.models import LlmClient, LlmModel
from app.services.model_catalog_sync import llm_model_migration


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def model_row(provider: str, name: str) -> LlmModel | None:
    return db.session.execute(
        select(LlmModel).where(LlmModel.provider == provider, LlmModel.name == name)
    ).scalar_one_or_none()


def old_row(provider: str, name: str, token_limit: int | None = None) -> LlmModel:
    """A retired model's row as a database from before the retirement still has it."""
    row = model_row(provider, name)
    if row is None:
        row = LlmModel(provider=provider, name=name, token_limit=token_limit, deprecated=True)
        db.session.add(row)
        db.session.commit()
    return row


def put_on(client: LlmClient, model: LlmModel) -> LlmClient:
    """Put a client on a model (as it was, before the model was retired)."""
    client.llm_model = model
    db.session.commit()
    return client


def model_of(client: LlmClient) -> str:
    db.session.refresh(client)
    return f"{client.provider}/{client.model}"


def with_echo_models(*models: Model) -> Catalog:
    """The catalog with these models as the echo provider's (the one that answers offline)."""
    return Catalog(models={**CATALOG.models, "echo": list(models)}, deleted=CATALOG.deleted)


def sync(catalog: Catalog = CATALOG):
    report = llm_model_migration(db.session.connection(), catalog)
    db.session.commit()
    return report
