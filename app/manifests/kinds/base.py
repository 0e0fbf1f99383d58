"""What a manifest kind provides: a spec model and five operations over the services.

A kind is a thin adapter: its spec model validates (camelCase names, no unknown field),
``read`` gives the current object as a spec (secrets only in ``status``, as set/unset),
``check`` finds what the file refers to, ``diff`` says what an apply would change,
``apply`` creates or updates through the services without committing (the engine
commits the whole file once), ``delete`` removes one object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from app.models import Account


class SpecModel(BaseModel):
    """Every spec: camelCase in manifests, snake_case in Python, unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


@dataclass
class Declared:
    """The names a file declares, by (kind, account id): references may point at them."""

    names: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def has(self, kind: str, account: Account, name: str) -> bool:
        return name in self.names.get((kind, account.id), set())

    def of(self, kind: str, account: Account) -> set[str]:
        return self.names.get((kind, account.id), set())


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


class Kind(Protocol):
    """One kind of manifest (``Client``, ``ProviderConnection``, ...)."""

    name: ClassVar[str]
    order: ClassVar[int]  # applied in this order: what others refer to comes first
    spec_model: ClassVar[type[SpecModel]]

    def names(self, account: Account) -> list[str]: ...

    def read(self, account: Account, name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(spec, status) as camelCase JSON values; None when there is no such object."""
        ...

    def check(
        self, account: Account, name: str, spec: SpecModel, declared: Declared
    ) -> Outcome:
        """Raise FieldProblem for a bad value or a missing reference; else the outcome."""
        ...

    def apply(self, account: Account, name: str, spec: SpecModel) -> None: ...

    def delete(self, account: Account, name: str) -> None: ...


def given(spec: SpecModel) -> dict[str, Any]:
    """The fields the manifest set (snake_case): the others keep their current value."""
    return spec.model_dump(exclude_unset=True)


def camel(values: Mapping[str, Any]) -> dict[str, Any]:
    return {to_camel(key): value for key, value in values.items()}
