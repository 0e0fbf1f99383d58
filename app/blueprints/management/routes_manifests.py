"""Manifests over HTTP: ``POST /apply`` (YAML or JSON, ``?dry_run=true``), the
manifests of an account's objects, deleting one, and each kind's JSON Schema. The
rules are ``app.manifests``' (the CLI's); a member touches only their accounts (403)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from app.blueprints.http import read_body
from app.blueprints.management.common import caller, operation
from app.errors import Forbidden, InvalidInput, NotFound
from app.manifests import engine, loader, schemas
from app.models import Account
from app.schemas.manifests import ApplyOut, ApplyResult, DeleteOut, ManifestList, ManifestOut
from app.services import access, accounts


def _flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidInput(f"{name} must be true or false")
    return value in ("true", "1")


def _account() -> Account:
    """``?account=`` (a number) if the caller may touch it: 403 alike whether it exists."""
    number = request.args.get("account", "")
    if not number:
        raise InvalidInput("give ?account= (an account number)")
    try:
        account = accounts.get_account(number)
    except (NotFound, InvalidInput):
        account = None
    if account is None or not access.may_see(caller(), account.id):
        if caller().is_platform_admin:
            raise NotFound(f"no account {number[:20]!r}")
        raise Forbidden(f"you may not manage account {number[:20]!r}")
    return account


def _documents() -> list[Any]:
    data = read_body()
    return loader.parse(data, "the body", is_json=request.mimetype == "application/json")


@operation(
    "POST",
    "/apply",
    summary="Apply manifests (YAML or JSON; one or many documents; ?dry_run=true), all or nothing",
    response=ApplyOut,
    errors=(400, 403, 413),
)
def manifests_apply() -> ResponseReturnValue:
    dry_run = _flag("dry_run")
    results, notes = engine.apply(_documents(), caller(), dry_run=dry_run)
    return jsonify(
        ApplyOut(
            dry_run=dry_run,
            results=[
                ApplyResult(
                    kind=r.kind,
                    name=r.name,
                    account=r.account,
                    outcome=r.outcome.state,
                    fields=list(r.outcome.fields),
                    line=str(r),
                )
                for r in results
            ],
            infrastructure=notes,
        ).model_dump(mode="json")
    )


@operation(
    "GET",
    "/manifests/<kind>",
    summary="The manifests of an account's objects of a kind (?account=)",
    response=ManifestList,
    errors=(400, 403),
)
def manifests_list(kind: str) -> ResponseReturnValue:
    found = engine.manifests(engine.resolve_kind(kind), _account())
    return jsonify({"items": found})


@operation(
    "GET",
    "/manifests/<kind>/<name>",
    summary="One object's manifest (?account=); applies back unchanged",
    response=ManifestOut,
    errors=(400, 403, 404),
)
def manifests_show(kind: str, name: str) -> ResponseReturnValue:
    return jsonify(engine.manifests(engine.resolve_kind(kind), _account(), name)[0])


@operation(
    "DELETE",
    "/manifests/<kind>/<name>",
    summary="Delete one object (?account=); a client's infrastructure is destroyed by a run",
    response=DeleteOut,
    errors=(400, 403, 404),
)
def manifests_delete(kind: str, name: str) -> ResponseReturnValue:
    kind_ = engine.resolve_kind(kind)
    return jsonify({"line": engine.delete_one(kind_, _account(), name, caller())})


@operation(
    "GET",
    "/schemas/<kind>",
    summary="The JSON Schema of a kind's manifest, from the models that validate it",
    response=None,
    errors=(400,),
)
def manifests_schema(kind: str) -> ResponseReturnValue:
    return jsonify(schemas.kind_schema(engine.resolve_kind(kind)))
