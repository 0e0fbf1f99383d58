"""Applying, reading and deleting manifests: the rules the CLI and ``/api/v1`` share.

Applying a file has two passes. The first checks every document on its own (envelope,
kind, account the caller may touch, spec fields, names declared twice, references to
objects of the file or the account) and changes nothing. The second runs each
document's diff and apply through the services in one transaction, kinds that others
refer to first; it commits only when every document went through and this is not a
dry run. A problem anywhere rolls everything back: all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import IntegrityError

from app.errors import ChatdockError, Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.models import Account, AdminUser
from app.names import escape_control_characters, is_client_name
from app.services import access, accounts
from app.services.clients import validation_message

from .kinds import KINDS, Kind
from .kinds.base import AfterCommit, Outcome, SpecModel
from .problems import Problem, did_you_mean, raise_problems

API_VERSION = "chatdock/v1"
ENVELOPE_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
METADATA_FIELDS = ("name", "account")


@dataclass(frozen=True)
class Document:
    index: int  # 1-based, as people count documents
    place: str  # "doc 3", or "shop.yaml doc 1" when several files are applied
    kind: Kind
    name: str
    account: Account
    spec: SpecModel

    @property
    def label(self) -> str:
        return _label(self.place, {"kind": self.kind.name, "metadata": {"name": self.name}})


@dataclass(frozen=True)
class Result:
    """One line of ``apply``: ``Client/shop: changed (model)``."""

    kind: str
    name: str
    account: str
    outcome: Outcome

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}: {self.outcome}"


def resolve_kind(name: str) -> Kind:
    """A kind by name, case-insensitively and in the plural too (``clients``)."""
    wanted = name.lower().removesuffix("s")
    for kind in KINDS.values():
        if kind.name.lower() == wanted or kind.name.lower() == name.lower():
            return kind
    raise InvalidInput(
        f"unknown kind {name!r}{did_you_mean(name, KINDS)} (kinds: {', '.join(KINDS)})",
        code="unknown_kind",
    )


def _label(place: str, raw: Any) -> str:
    kind = name = "?"
    if isinstance(raw, dict):
        kind = str(raw.get("kind") or "?")[:60]
        metadata = raw.get("metadata")
        if isinstance(metadata, dict):
            name = str(metadata.get("name") or "?")[:63]
    return escape_control_characters(f"{place} ({kind}/{name})")  # printed on terminals


def _unknown_fields(
    raw: dict[str, Any], known: Sequence[str], prefix: str
) -> list[tuple[str, str]]:
    return [
        (f"{prefix}{key}", f"unknown field{did_you_mean(str(key), known)}")
        for key in raw
        if key not in known
    ]


def _field_names(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The camelCase names valid where ``loc`` points (for "did you mean")."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        field = next(
            (f for n, f in current.model_fields.items() if to_camel(n) == part or n == part), None
        )
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [to_camel(n) for n in current.model_fields]
    return []


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``list[M]`` / ``M | None`` (or the annotation)."""
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _spec_problems(kind: Kind, error: ValidationError) -> list[tuple[str, str]]:
    found = []
    for err in error.errors(include_url=False, include_context=False):
        loc = err["loc"]
        path = ".".join(str(p) for p in ("spec", *loc))
        message = validation_message(err["msg"])
        if err["type"] == "extra_forbidden" and loc:
            message = (
                f"unknown field{did_you_mean(str(loc[-1]), _field_names(kind.spec_model, loc))}"
            )
        found.append((path, message))
    return found


def _check_one(
    index: int,
    place: str,
    raw: Any,
    user: AdminUser | None,
    visible: set[int] | None,
    *,
    with_spec: bool = True,
) -> tuple[Document | None, list[Problem]]:
    label = _label(place, raw)

    def problem(path: str, message: str, forbidden: bool = False) -> Problem:
        return Problem(label, path, message, forbidden)

    if not isinstance(raw, dict):
        return None, [
            problem("", "a document must be a mapping (apiVersion, kind, metadata, spec)")
        ]
    problems = [problem(p, m) for p, m in _unknown_fields(raw, ENVELOPE_FIELDS, "")]
    if raw.get("apiVersion") != API_VERSION:
        shown = raw.get("apiVersion")
        what = "missing" if shown is None else f"unknown apiVersion {str(shown)[:60]!r}"
        problems.append(problem("apiVersion", f"{what}; use {API_VERSION!r}"))
    kind = None
    if not isinstance(raw.get("kind"), str):
        problems.append(problem("kind", f"missing; one of {', '.join(KINDS)}"))
    elif raw["kind"] not in KINDS:
        problems.append(
            problem("kind", f"unknown kind {raw['kind'][:60]!r}{did_you_mean(raw['kind'], KINDS)}")
        )
    else:
        kind = KINDS[raw["kind"]]
    metadata = raw.get("metadata")
    name = number = None
    if not isinstance(metadata, dict):
        problems.append(problem("metadata", "missing: give metadata.name and metadata.account"))
    else:
        problems += [
            problem(p, m) for p, m in _unknown_fields(metadata, METADATA_FIELDS, "metadata.")
        ]
        name, number = metadata.get("name"), metadata.get("account")
        if not isinstance(name, str) or not name:
            problems.append(problem("metadata.name", "missing name"))
            name = None
        elif not is_client_name(name):
            problems.append(
                problem(
                    "metadata.name", f"invalid name {name[:70]!r}: use a DNS label (a-z, 0-9, -)"
                )
            )
            name = None
        if not isinstance(number, str) or not number:
            problems.append(problem("metadata.account", "missing account number (####-####-####)"))
            number = None
    account: Account | None = None
    if number is not None:
        found = _account(number, user, visible, label)
        if isinstance(found, Problem):
            problems.append(found)
        else:
            account = found
    spec_raw = raw.get("spec", {})
    spec = None
    if kind is not None and not with_spec:
        spec = kind.spec_model.model_construct()
    elif kind is not None:
        if not isinstance(spec_raw, dict):
            problems.append(problem("spec", "must be a mapping"))
        else:
            try:
                spec = kind.spec_model.model_validate(spec_raw)
            except ValidationError as error:
                problems += [problem(p, m) for p, m in _spec_problems(kind, error)]
    if problems or kind is None or name is None or account is None or spec is None:
        return None, problems
    return Document(index, place, kind, name, account, spec), []


def _account(
    number: str, user: AdminUser | None, visible: set[int] | None, label: str
) -> Account | Problem:
    """The account, if the caller may touch it: the same 403 whether or not it exists."""
    try:
        account = accounts.get_account(number)
    except (NotFound, InvalidInput):
        account = None
    if visible is not None and (account is None or account.id not in visible):
        return Problem(
            label, "metadata.account", f"you may not manage account {number[:20]!r}", True
        )
    if account is None:
        return Problem(label, "metadata.account", f"no account {number[:20]!r}")
    return account


def _places(count: int, places: Sequence[str] | None) -> Sequence[str]:
    return places if places is not None else [f"doc {i}" for i in range(1, count + 1)]


def check(
    raw_documents: list[Any], user: AdminUser | None, places: Sequence[str] | None = None
) -> list[Document]:
    """Every document checked on its own, then names declared twice and references;
    raises (403 or 400) naming every problem. ``user`` None: the operator's CLI;
    ``places``: how to name each document (default ``doc N``)."""
    visible = access.visible_account_ids(user) if user is not None else None
    documents, problems = [], []
    named = _places(len(raw_documents), places)
    for index, raw in enumerate(raw_documents, start=1):
        document, found = _check_one(index, named[index - 1], raw, user, visible)
        problems += found
        if document is not None:
            documents.append(document)
    declared: dict[tuple[str, int, str], Document] = {}
    for doc in documents:
        key = (doc.kind.name, doc.account.id, doc.name)
        if key in declared:
            problems.append(
                Problem(doc.label, "metadata.name", f"declared twice (also {declared[key].label})")
            )
        declared.setdefault(key, doc)
    existing: dict[tuple[str, int], list[str]] = {}
    for doc in documents:
        for ref in doc.kind.references(doc.spec):
            if ref.kind not in KINDS or (ref.kind, doc.account.id, ref.name) in declared:
                continue
            names = existing.get((ref.kind, doc.account.id))
            if names is None:
                names = existing[(ref.kind, doc.account.id)] = KINDS[ref.kind].names(doc.account)
            if ref.name not in names:
                choices = names + [
                    n for k, a, n in declared if k == ref.kind and a == doc.account.id
                ]
                problems.append(
                    Problem(
                        doc.label,
                        f"spec.{ref.path}",
                        f"no {ref.kind} {ref.name!r}{did_you_mean(ref.name, choices)}",
                    )
                )
    raise_problems(problems)
    return documents


def _service_problem(doc: Document, error: ChatdockError) -> Problem:
    details = error.details if isinstance(error.details, list) else []
    loc = details[0].get("loc") if details and isinstance(details[0], dict) else None
    path = ".".join(("spec", *(to_camel(str(p)) for p in loc))) if loc else ""
    return Problem(doc.label, path, error.message, isinstance(error, Forbidden))


def apply(
    raw_documents: list[Any],
    user: AdminUser | None,
    *,
    dry_run: bool,
    places: Sequence[str] | None = None,
) -> tuple[list[Result], list[str]]:
    """Check, then diff and apply every document in one transaction; committed only when
    all went through and ``dry_run`` is false. One result per document, in file order,
    and a line per infrastructure step run after the commit (a run waiting for review)."""
    documents = check(raw_documents, user, places)
    outcomes: dict[int, Outcome] = {}
    problems: list[Problem] = []
    after: list[AfterCommit] = []
    try:
        for doc in sorted(documents, key=lambda d: (d.kind.order, d.index)):
            try:
                outcome = doc.kind.diff(doc.account, doc.name, doc.spec)
                if outcome.state != "unchanged":
                    step = doc.kind.apply(doc.account, doc.name, doc.spec, user)
                    if step is not None:
                        after.append(step)
            except InvalidInput as error:  # refused before anything was written
                problems.append(_service_problem(doc, error))
                continue
            except ChatdockError as error:
                problems.append(_service_problem(doc, error))
                break
            outcomes[doc.index] = outcome
        raise_problems(problems)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except IntegrityError:  # another apply created the same name meanwhile
        db.session.rollback()
        raise Conflict("an object of this file changed meanwhile; apply it again") from None
    except BaseException:
        db.session.rollback()
        raise
    results = [
        Result(d.kind.name, d.name, d.account.account_number, outcomes[d.index]) for d in documents
    ]
    return results, [] if dry_run else [_after(step) for step in after]


def _after(step: AfterCommit) -> str:
    """An infrastructure step, after the commit: its own line (an error is one too: the
    settings stay applied, the step can be retried by applying again)."""
    try:
        return step()
    except ChatdockError as error:
        db.session.rollback()
        return f"  not done: {error.message}"


def manifests(kind: Kind, account: Account, name: str | None = None) -> list[dict[str, Any]]:
    """The account's objects of ``kind`` (or the one named) as manifests."""
    names = [name] if name is not None else kind.names(account)
    found = []
    for each in names:
        current = kind.read(account, each)
        if current is None:
            raise NotFound(f"account {account.account_number} has no {kind.name} {each!r}")
        spec, status = current
        found.append(
            {
                "apiVersion": API_VERSION,
                "kind": kind.name,
                "metadata": {"name": each, "account": account.account_number},
                "spec": spec,
                "status": status,
            }
        )
    return found


def delete(
    raw_documents: list[Any], user: AdminUser | None, places: Sequence[str] | None = None
) -> list[str]:
    """Delete the objects a file declares (its specs are not read), those that refer to
    others first. Each deletion is its own change: a client's makes a destroy run."""
    targets = []
    visible = access.visible_account_ids(user) if user is not None else None
    problems: list[Problem] = []
    named = _places(len(raw_documents), places)
    for index, raw in enumerate(raw_documents, start=1):
        document, found = _check_one(index, named[index - 1], raw, user, visible, with_spec=False)
        problems += found
        if document is not None:
            targets.append(document)
    raise_problems(problems)
    lines = []
    for doc in sorted(targets, key=lambda d: (-d.kind.order, d.index)):
        lines.append(delete_one(doc.kind, doc.account, doc.name, user))
    return lines


def delete_one(kind: Kind, account: Account, name: str, user: AdminUser | None) -> str:
    if name not in kind.names(account):
        raise NotFound(f"account {account.account_number} has no {kind.name} {name!r}")
    kind.delete(account, name, user)
    return f"{kind.name}/{name}: deleted"
