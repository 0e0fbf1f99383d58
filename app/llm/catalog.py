"""The LLM model catalog, kept in code: what each provider offers and what was retired.

The code is the source of truth, so a release adds, deprecates and deletes models by
editing this file; the database mirrors it in ``llm_models`` (clients reference a row)
through migrations. A model's life:

1. listed: clients may choose it;
2. listed with ``deprecated=True`` (and a ``replacement``): clients on it keep working,
   with a warning on every chat answer; new clients cannot choose it;
   ``flask models notify-deprecated`` tells their accounts once;
3. moved to ``DELETED_MODELS`` once the provider turned it off: a migration runs
   ``remove_deprecated_models``, which moves its clients to the replacement, deletes the
   row and tells each affected account;
4. dropped from ``DELETED_MODELS`` when ``flask models prune-check`` says it is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.config import current_settings
from app.llm.registry import PROVIDER_NAMES


@dataclass(frozen=True)
class Model:
    """One model of a provider; ``token_limit`` is its context window in tokens."""

    name: str
    token_limit: int
    is_default: bool = False
    deprecated: bool = False
    replacement: str | None = None


@dataclass(frozen=True, order=True)
class ModelRef:
    """A model named across providers (``openai/gpt-4.1``)."""

    provider: str
    name: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.name}"


@dataclass(frozen=True, order=True)
class DeletedModel:
    """A ``DELETED_MODELS`` entry: a model gone from its provider."""

    provider: str
    name: str
    replacement: str | None = None

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.provider, self.name)

    def as_list(self) -> list[str | None]:
        """The entry as JSON-friendly data (ledger details, batch hashes)."""
        return [self.provider, self.name, self.replacement]


DeletedEntry = tuple[str, str] | tuple[str, str, str]

DEFAULT_LLM_PROVIDER_MODELS: dict[str, list[Model]] = {
    "echo": [
        Model("echo-1", 1_000_000, is_default=True),
    ],
    "openai": [
        Model("gpt-4.1-mini", 1_047_576, is_default=True),
        Model("gpt-4.1", 1_047_576),
        Model("gpt-4o", 128_000),
        Model("gpt-4o-mini", 128_000),
        Model("gpt-5.4", 1_050_000),
        Model("gpt-5.4-mini", 400_000),
        Model("gpt-5", 400_000, deprecated=True, replacement="gpt-5.4"),
    ],
    "anthropic": [
        Model("claude-sonnet-4-6", 1_000_000, is_default=True),
        Model("claude-opus-4-7", 1_000_000),
        Model("claude-haiku-4-5-20251001", 200_000),
        Model("claude-opus-4-20250514", 200_000, deprecated=True, replacement="claude-opus-4-7"),
    ],
}

# (provider, name) or (provider, name, replacement). Without a replacement, clients move
# to the provider's default model. One entry per line: prune-check finds each line's
# first commit in git.
DELETED_MODELS: list[DeletedEntry] = [
    ("openai", "gpt-4-turbo", "gpt-4.1"),
    ("anthropic", "claude-2.0"),
    ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-6"),
]


@dataclass(frozen=True)
class Catalog:
    """The catalog as one value, so the lifecycle code (and its tests) can take any."""

    models: Mapping[str, Sequence[Model]]
    deleted: tuple[DeletedModel, ...] = field(default=())

    @classmethod
    def build(
        cls, models: Mapping[str, Sequence[Model]], deleted: Sequence[DeletedEntry] = ()
    ) -> Catalog:
        return cls(models=models, deleted=tuple(DeletedModel(*entry) for entry in deleted))

    def find(self, provider: str, name: str) -> Model | None:
        return next((m for m in self.models.get(provider, ()) if m.name == name), None)

    def default(self, provider: str) -> Model | None:
        return next((m for m in self.models.get(provider, ()) if m.is_default), None)

    def deleted_entry(self, provider: str, name: str) -> DeletedModel | None:
        return next((d for d in self.deleted if (d.provider, d.name) == (provider, name)), None)

    def is_retired(self, provider: str, name: str) -> bool:
        """Deprecated or deleted: no new client may choose it, nor be moved onto it."""
        model = self.find(provider, name)
        return (model is not None and model.deprecated) or self.deleted_entry(
            provider, name
        ) is not None

    def successor(self, ref: ModelRef, platform_default: ModelRef) -> ModelRef:
        """Where clients of a retired model go: its replacement, else its provider's default
        model, else the platform default. The one rule behind removal and warnings."""
        entry = self.deleted_entry(ref.provider, ref.name) or self.find(ref.provider, ref.name)
        if entry is not None and entry.replacement:
            return ModelRef(ref.provider, entry.replacement)
        default = self.default(ref.provider)
        if default is not None and default.name != ref.name:
            return ModelRef(ref.provider, default.name)
        return platform_default

    def problems(self) -> list[str]:
        """Inconsistencies a release must fix before it ships (empty when none)."""
        found: list[str] = []
        for provider in sorted(set(self.models) - set(PROVIDER_NAMES)):
            found.append(f"{provider}: not a provider ({', '.join(PROVIDER_NAMES)})")
        for provider, models in self.models.items():
            names = [m.name for m in models]
            found += [
                f"{provider}/{n}: listed twice" for n in sorted(set(names)) if names.count(n) > 1
            ]
            defaults = [m.name for m in models if m.is_default]
            if len(defaults) != 1:
                found.append(f"{provider}: {len(defaults)} default models, expected exactly one")
            for model in models:
                if model.is_default and model.deprecated:
                    found.append(f"{provider}/{model.name}: the default model is deprecated")
                if model.replacement and not model.deprecated:
                    found.append(f"{provider}/{model.name}: a replacement but not deprecated")
        seen: set[ModelRef] = set()
        for entry in self.deleted:
            if entry.ref in seen:
                found.append(f"{entry.ref}: deleted twice")
            seen.add(entry.ref)
            if entry.provider not in PROVIDER_NAMES:
                found.append(f"{entry.ref}: not a provider ({', '.join(PROVIDER_NAMES)})")
            if self.find(entry.provider, entry.name) is not None:
                found.append(f"{entry.ref}: both listed and deleted")
        replaced = [(d.ref, d.replacement) for d in self.deleted] + [
            (ModelRef(p, m.name), m.replacement) for p, ms in self.models.items() for m in ms
        ]
        for ref, replacement in replaced:
            if replacement is None:
                continue
            if self.is_retired(ref.provider, replacement):
                found.append(f"{ref}: replacement {replacement} is itself deprecated or deleted")
            elif self.find(ref.provider, replacement) is None:
                found.append(f"{ref}: replacement {replacement} is not listed for {ref.provider}")
        return found


CATALOG = Catalog.build(DEFAULT_LLM_PROVIDER_MODELS, DELETED_MODELS)


def platform_default() -> ModelRef:
    """The platform's default model (settings ``DEFAULT_PROVIDER``/``DEFAULT_MODEL``): the
    last resort of ``Catalog.successor``, and the model of new clients by default."""
    settings = current_settings()
    return ModelRef(settings.DEFAULT_PROVIDER, settings.DEFAULT_MODEL)
