"""What a manifest kind provides: a spec model and five operations over the services.

A kind is a thin adapter: its spec model validates (camelCase names, no unknown field),
``read`` gives the current object as a spec (secrets only in ``status``, as set/unset),
``references`` lists the names it points at (checked against the file and the
account), ``diff`` says what an apply would change, ``apply`` creates or updates
through the services without committing (the engine commits the whole file once),
``delete`` removes one object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from app.models import Account, AdminUser


class SpecModel(BaseModel):
    """Every spec: camelCase in manifests, snake_case in Python, unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


@dataclass(frozen=True)
class Outcome:
    """``created``, ``changed`` (with the fields that differ) or ``unchanged``."""

    state: str
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"changed ({', '.join(self.fields)})" if self.state == "changed" else self.state


CREATED = Outcome("created")
UNCHANGED = Outcome("unchanged")


def changed(fields: list[str]) -> Outcome:
    return Outcome("changed", tuple(fields)) if fields else UNCHANGED


# A change that needs infrastructure, run once the file's settings are committed: it
# makes a run that waits for review as the CLI does; what it returns is printed.
AfterCommit = Callable[[], str]


@dataclass(frozen=True)
class Reference:
    """A name the spec refers to: ``path`` (below ``spec``) names an object of ``kind``
    of the same account."""

    path: str
    kind: str
    name: str


class Kind(Protocol):
    """One kind of manifest (``Client``, ``ProviderConnection``, ...)."""

    name: ClassVar[str]
    order: ClassVar[int]  # applied in this order: what others refer to comes first
    spec_model: ClassVar[type[SpecModel]]

    def names(self, account: Account) -> list[str]: ...

    def read(self, account: Account, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(spec, status) as camelCase JSON values; None when there is no such object."""
        ...

    def references(self, spec: SpecModel) -> list[Reference]: ...

    def diff(self, account: Account, name: str, spec: SpecModel) -> Outcome:
        """What applying would do; raises InvalidInput (with ``details`` locations) for
        a value the services refuse."""
        ...

    def apply(
        self, account: Account, name: str, spec: SpecModel, by: AdminUser | None
    ) -> AfterCommit | None:
        """Create or update through the services, without committing. ``by``: the user
        applying (None: the operator's CLI), for the services' own role rules. A change
        that needs infrastructure is returned as a step to run after the commit."""
        ...

    def delete(self, account: Account, name: str, by: AdminUser | None) -> None: ...


def given(spec: SpecModel) -> dict[str, Any]:
    """The fields the manifest set (snake_case): the others keep their current value."""
    return spec.model_dump(exclude_unset=True)


def camel(values: Mapping[str, Any]) -> dict[str, Any]:
    return {to_camel(key): value for key, value in values.items()}
