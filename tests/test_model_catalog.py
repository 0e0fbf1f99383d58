"""The catalog in code is consistent, and its consistency check catches each mistake."""

from __future__ import annotations

import pytest

from app.llm.catalog import CATALOG, DELETED_MODELS, Catalog, Model, ModelRef
from app.llm.registry import PROVIDER_NAMES

PLATFORM = ModelRef("echo", "echo-1")


def test_the_catalog_is_consistent():
    assert CATALOG.problems() == []


def test_the_catalog_covers_every_provider_with_one_default():
    assert sorted(CATALOG.models) == sorted(PROVIDER_NAMES)
    defaults = {p: CATALOG.default(p).name for p in PROVIDER_NAMES}
    assert defaults == {
        "echo": "echo-1",
        "openai": "gpt-4.1-mini",
        "anthropic": "claude-sonnet-4-6",
    }


def test_no_model_is_both_listed_and_deleted():
    for entry in DELETED_MODELS:
        assert CATALOG.find(entry[0], entry[1]) is None, entry


def test_every_replacement_is_a_live_model_of_the_same_provider():
    for provider, models in CATALOG.models.items():
        for model in models:
            if model.replacement:
                target = CATALOG.find(provider, model.replacement)
                assert target is not None and not target.deprecated, model
    for entry in CATALOG.deleted:
        if entry.replacement:
            assert not CATALOG.is_retired(entry.provider, entry.replacement), entry
            assert CATALOG.find(entry.provider, entry.replacement) is not None, entry


def catalog(openai: list[Model], deleted=()) -> Catalog:
    return Catalog.build(
        {"echo": [Model("echo-1", 10, is_default=True)], "openai": openai}, deleted
    )


GOOD = [Model("a", 10, is_default=True), Model("b", 10)]


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (catalog(GOOD, [("openai", "b")]), "openai/b: both listed and deleted"),
        (catalog(GOOD, [("openai", "x", "nope")]), "replacement nope is not listed"),
        (catalog([*GOOD, Model("c", 1, deprecated=True, replacement="zz")]), "zz is not listed"),
        (
            catalog([*GOOD, Model("c", 1, deprecated=True)], [("openai", "x", "c")]),
            "replacement c is itself deprecated or deleted",
        ),
        (
            catalog(GOOD, [("openai", "x", "y"), ("openai", "y")]),
            "replacement y is itself deprecated or deleted",
        ),
        (catalog([Model("a", 1), Model("b", 1)]), "openai: 0 default models"),
        (
            catalog([Model("a", 1, is_default=True), Model("b", 1, is_default=True)]),
            "openai: 2 default models",
        ),
        (catalog([*GOOD, Model("a", 5)]), "openai/a: listed twice"),
        (catalog(GOOD, [("openai", "x"), ("openai", "x")]), "openai/x: deleted twice"),
        (catalog(GOOD, [("mistral", "m")]), "mistral/m: not a provider"),
    ],
)
def test_each_inconsistency_is_reported(bad: Catalog, problem: str):
    assert any(problem in found for found in bad.problems()), bad.problems()


def test_successor_is_the_replacement_else_the_provider_default_else_the_platform():
    c = Catalog.build(
        {"echo": [Model("echo-1", 1, is_default=True)], "openai": GOOD},
        [("openai", "old", "b"), ("openai", "older"), ("anthropic", "gone")],
    )
    assert c.successor(ModelRef("openai", "old"), PLATFORM) == ModelRef("openai", "b")
    assert c.successor(ModelRef("openai", "older"), PLATFORM) == ModelRef("openai", "a")
    assert c.successor(ModelRef("anthropic", "gone"), PLATFORM) == PLATFORM
