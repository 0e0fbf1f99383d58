"""The model catalog as the app uses it: choosing a client's model, listing, usage, warnings.

Reads the ``llm_models`` rows (what clients can reference) and the catalog in code
(replacements); changes to the rows are ``app.services.model_catalog_sync`` and
``app.services.model_retirement``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager

from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.llm.catalog import CATALOG, ModelRef, platform_default
from app.models import Account, LlmClient, LlmModel


def successor(model: LlmModel) -> ModelRef:
    """Where the clients of this model go once it is removed."""
    return CATALOG.successor(ModelRef(model.provider, model.name), platform_default())


def replacement_shown(model: LlmModel) -> str | None:
    """For a deprecated model, its successor as shown to people (the bare name within the
    same provider); None when the model is not deprecated."""
    if not model.deprecated:
        return None
    target = successor(model)
    return target.name if target.provider == model.provider else str(target)


def deprecation_warning(model: LlmModel) -> str | None:
    """The warning on chat answers of a deprecated model's clients."""
    shown = replacement_shown(model)
    return f"model {model.name} is deprecated; use {shown}" if shown else None


def model_label(model: LlmModel) -> str:
    """The model's name, marked when deprecated: ``gpt-5 [deprecated: use gpt-5.4]``."""
    shown = replacement_shown(model)
    return f"{model.name} [deprecated: use {shown}]" if shown else model.name


def _choices(provider: str | None) -> str:
    """The models a new client may choose (of one provider, or all as provider/name)."""
    query = select(LlmModel.provider, LlmModel.name).where(LlmModel.deprecated.is_(False), PLATFORM)
    if provider is not None:
        query = query.where(LlmModel.provider == provider)
    rows = db.session.execute(query.order_by(LlmModel.provider, LlmModel.name)).all()
    names = [name if provider else f"{p}/{name}" for p, name in rows]
    return ", ".join(names) or "none (flask models sync)"


# The platform's catalog: not the models a provider connection added for its account.
PLATFORM = LlmModel.provider_connection_id.is_(None)


def _row(provider: str, name: str) -> LlmModel | None:
    return db.session.execute(
        select(LlmModel).where(LlmModel.provider == provider, LlmModel.name == name, PLATFORM)
    ).scalar_one_or_none()


def _provider_of(name: str) -> str:
    """The provider of a model named without one: the only one that has (or had) it."""
    providers = db.session.scalars(
        select(LlmModel.provider).where(LlmModel.name == name, PLATFORM).order_by(LlmModel.provider)
    ).all() or sorted(
        {p for p, models in CATALOG.models.items() for m in models if m.name == name}
        | {entry.provider for entry in CATALOG.deleted if entry.name == name}
    )
    if len(providers) > 1:
        raise InvalidInput(f"model {name!r} exists for {', '.join(providers)}: give --provider")
    if not providers:
        raise InvalidInput(f"unknown model {name!r}; choose one of: {_choices(None)}")
    return providers[0]


MODEL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")  # fullmatch


def add_custom_model(provider: str, name: str, token_limit: int | None = None) -> LlmModel:
    """A model the catalog does not list, e.g. one a self-hosted OpenAI-compatible server
    (``OPENAI_BASE_URL``: Ollama, vLLM) serves. The sync leaves such rows alone."""
    name = (name or "").strip()
    if not MODEL_NAME_RE.fullmatch(name):
        raise InvalidInput(f"invalid model name {name!r}")
    if token_limit is not None and token_limit < 1:
        raise InvalidInput("the token limit must be at least 1")
    if CATALOG.find(provider, name) is not None or _row(provider, name) is not None:
        raise Conflict(f"model {provider}/{name} already exists")
    if CATALOG.is_retired(provider, name):
        raise InvalidInput(f"model {provider}/{name} was deleted from the catalog")
    model = LlmModel(provider=provider, name=name, token_limit=token_limit)
    db.session.add(model)
    db.session.commit()
    return model


def choose_model(provider: str | None, name: str | None) -> LlmModel:
    """The model a new client gets: the one named (any provider when none is given), else
    the platform default for the default provider, else the provider's default model.

    Unknown, deleted and deprecated models are refused with the valid choices: a new
    client on a model about to go is only more work for its account.
    """
    if not name:
        default = platform_default()
        provider = provider or default.provider
        if provider == default.provider:
            name = default.name
        else:
            name = db.session.scalar(
                select(LlmModel.name).where(LlmModel.provider == provider, LlmModel.is_default)
            )
            if name is None:
                raise InvalidInput(f"provider {provider} has no default model: give --model")
    provider = provider or _provider_of(name)
    model = _row(provider, name)
    deleted = CATALOG.deleted_entry(provider, name)
    if CATALOG.is_retired(provider, name) or (model is not None and model.deprecated):
        target = CATALOG.successor(ModelRef(provider, name), platform_default())
        state = "was deleted" if deleted is not None else "is deprecated"
        raise InvalidInput(
            f"model {provider}/{name} {state}; use {target.name} (valid: {_choices(provider)})"
        )
    if model is None:
        raise InvalidInput(
            f"unknown model {name!r} for provider {provider}; choose one of: {_choices(provider)}"
        )
    return model


@dataclass(frozen=True)
class ModelRow:
    model: LlmModel
    clients: int


def models_query(
    provider: str | None = None,
    deprecated_only: bool = False,
    account_ids: Select[int] | None = None,
) -> Select[LlmModel, int]:
    """The models with how many clients use each: of the accounts ``account_ids`` (a
    query of ids) only, when given, so that a tenant never learns other accounts' counts."""
    uses = LlmClient.llm_model_id == LlmModel.id
    if account_ids is not None:
        uses = uses & LlmClient.account_id.in_(account_ids)
    query = (
        select(LlmModel, func.count(LlmClient.id))
        .outerjoin(LlmClient, uses)
        .where(PLATFORM)
        .group_by(LlmModel.id)
        .order_by(LlmModel.provider, LlmModel.name, LlmModel.id)
    )
    if provider:
        query = query.where(LlmModel.provider == provider)
    if deprecated_only:
        query = query.where(LlmModel.deprecated.is_(True))
    return query


def list_models(provider: str | None = None, deprecated_only: bool = False) -> list[ModelRow]:
    """The models with how many clients (of every account) use each."""
    rows = db.session.execute(models_query(provider, deprecated_only)).all()
    return [ModelRow(model, count) for model, count in rows]


def selectable_models(keep: LlmModel | None = None) -> dict[str, list[LlmModel]]:
    """The models a client may be given, by provider (default model first): every live,
    non-deprecated model, plus ``keep`` (a client's current model, even deprecated, so
    that editing its other settings does not force a move)."""
    rows = db.session.execute(
        select(LlmModel)
        .where(PLATFORM)
        .order_by(LlmModel.provider, LlmModel.is_default.desc(), LlmModel.name)
    ).scalars()
    grouped: dict[str, list[LlmModel]] = {}
    for model in rows:
        if not model.deprecated or (keep is not None and model.id == keep.id):
            grouped.setdefault(model.provider, []).append(model)
    return grouped


@dataclass(frozen=True)
class Usage:
    account: Account
    client: LlmClient

    @property
    def model(self) -> LlmModel:
        return self.client.llm_model


def usage(deprecated_only: bool = False) -> list[Usage]:
    """Which client uses which model, by model then account number and client name."""
    query = (
        select(LlmClient, Account)
        .join(Account, LlmClient.account_id == Account.id)
        .join(LlmModel, LlmClient.llm_model_id == LlmModel.id)
        .options(contains_eager(LlmClient.llm_model))
        .order_by(LlmModel.provider, LlmModel.name, Account.account_number, LlmClient.name)
    )
    if deprecated_only:
        query = query.where(LlmModel.deprecated.is_(True))
    return [Usage(account, client) for client, account in db.session.execute(query).all()]
