"""The JSON Schema of each kind's manifest, generated from the models that validate it:
served at ``/api/v1/schemas/{kind}`` and kept in ``docs/schemas/`` (regenerate with
``python -m app.manifests.schemas``; a test checks the files match)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .engine import API_VERSION, ENVELOPE_FIELDS
from .kinds import KINDS, Kind

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
REGENERATE = "python -m app.manifests.schemas"


def kind_schema(kind: Kind) -> dict[str, Any]:
    """A whole document of ``kind``: the envelope around the kind's spec."""
    spec = kind.spec_model.model_json_schema(by_alias=True)
    defs = spec.pop("$defs", {})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"chatdock {kind.name} manifest",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": kind.name},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "account"],
                "properties": {
                    "name": {
                        "type": "string",
                        "maxLength": 63,
                        "pattern": "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
                    },
                    "account": {"type": "string", "description": "Account number ####-####-####."},
                },
            },
            "spec": spec,
            "status": {"type": "object", "description": "What get reports; ignored by apply."},
        },
    }
    assert set(schema["properties"]) == set(ENVELOPE_FIELDS)
    if defs:
        schema["$defs"] = defs
    return schema


def schema_file(kind: Kind) -> Path:
    return SCHEMA_DIR / f"{kind.name}.json"


def render(kind: Kind) -> str:
    return json.dumps(kind_schema(kind), indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for kind in KINDS.values():
        schema_file(kind).write_text(render(kind))


if __name__ == "__main__":
    main()
