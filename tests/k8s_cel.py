"""The CEL rules of a CRD (``x-kubernetes-validations``), evaluated offline with
cel-python on an object, as the API server evaluates them on a create.

Rules that compare with ``oldSelf`` (transition rules) only apply to updates and are not
evaluated. A rule cel-python cannot evaluate (a Kubernetes CEL library function it lacks)
is reported, not skipped silently: ``test_client_objects`` asserts the list is empty for
every kind chatdock renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import celpy

_ENV = celpy.Environment()


@lru_cache(maxsize=4096)
def _program(rule: str) -> Any:
    return _ENV.program(_ENV.compile(rule))


def _rules_at(schema: dict[str, Any], value: Any, path: str) -> Iterator[tuple[str, dict, Any]]:
    """(path, rule, value) of every rule that applies to a part of ``value`` present."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule, value
    if isinstance(value, dict):
        for key, child in schema.get("properties", {}).items():
            if key in value:
                yield from _rules_at(child, value[key], f"{path}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in schema.get("properties", {}):
                    yield from _rules_at(extra, item, f"{path}[{key}]")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _rules_at(schema["items"], item, f"{path}[{index}]")


def cel_problems(schema: dict[str, Any], obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(violations, rules that could not be evaluated) of ``obj`` under ``schema``."""
    violations, unevaluated = [], []
    for path, rule, value in _rules_at(schema, with_defaults(schema, obj), ""):
        text = rule["rule"]
        if "oldSelf" in text:
            continue
        try:
            result = _program(text).evaluate({"self": celpy.json_to_cel(value)})
        except Exception as error:  # compile or evaluation error: a function it lacks
            unevaluated.append(f"{path or '.'}: {text} ({type(error).__name__})")
            continue
        if isinstance(result, Exception):
            unevaluated.append(f"{path or '.'}: {text} ({result})")
        elif not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            violations.append(f"{path or '.'}: {rule.get('message') or text}")
    return violations, unevaluated


def with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """``value`` with the schema's defaults filled in, as the API server does before it
    validates (rules may read a defaulted field)."""
    if isinstance(value, dict):
        filled = dict(value)
        for key, child in schema.get("properties", {}).items():
            if key not in filled and "default" in child:
                filled[key] = child["default"]
            if key in filled:
                filled[key] = with_defaults(child, filled[key])
        return filled
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [with_defaults(schema["items"], item) for item in value]
    return value
