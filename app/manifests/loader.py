"""Reading manifest files safely: at most MAX_BYTES, UTF-8 only, YAML without aliases
(no "billion laughs"), one or many documents; JSON is accepted as well (it is YAML)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from app.errors import InvalidInput

MAX_BYTES = 1_000_000


class ManifestTooLarge(InvalidInput):
    status, code = 413, "payload_too_large"


class _NoAliasLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases (``*name``): a manifest never needs them and an
    alias bomb expands a few hundred bytes into gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                None, None, "YAML aliases (*name) are not allowed in manifests", event.start_mark
            )
        return super().compose_node(parent, index)


def check_size(size: int, source: str = "the manifest") -> None:
    if size > MAX_BYTES:
        raise ManifestTooLarge(f"{source} is {size} bytes; the limit is {MAX_BYTES} bytes")


def parse(data: bytes, source: str = "the manifest", *, is_json: bool = False) -> list[Any]:
    """The documents of one file (empty documents dropped), in order."""
    check_size(len(data), source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{source} is not UTF-8 (byte {error.start})", code="invalid_manifest"
        ) from None
    try:
        if is_json:
            return _flatten([json.loads(text)])
        documents = list(yaml.load_all(text, Loader=_NoAliasLoader))
    except RecursionError:
        raise InvalidInput(f"{source}: nested too deeply", code="invalid_manifest") from None
    except ValueError as error:  # bad JSON, or a YAML value such as the date 2026-13-45
        what = "JSON" if is_json else "YAML"
        raise InvalidInput(f"{source}: invalid {what}: {error}", code="invalid_manifest") from None
    except yaml.YAMLError as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        what = getattr(error, "problem", None) or str(error)
        raise InvalidInput(
            f"{source}: invalid YAML{where}: {what}", code="invalid_manifest"
        ) from None
    return _flatten(documents)


def _flatten(documents: list[Any]) -> list[Any]:
    """A document that is a list holds documents (``get -o json`` prints a list)."""
    flat: list[Any] = []
    for doc in documents:
        if isinstance(doc, list):
            flat.extend(doc)
        elif doc is not None:
            flat.append(doc)
    return flat
