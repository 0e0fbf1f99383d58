"""What the chat and management parts of the document share: references into
``components`` and the JSON Schemas of the pydantic models (never written by hand)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, JsonSchemaValue, models_json_schema

REF_TEMPLATE = "#/components/schemas/{model}"

# Keyed by (model, mode); pydantic types the model as a model or a pydantic dataclass.
ModelRefs = dict[tuple[Any, JsonSchemaMode], JsonSchemaValue]


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def response_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def model_schemas(
    requests: Iterable[type[BaseModel]], responses: Iterable[type[BaseModel]]
) -> tuple[ModelRefs, dict[str, Any]]:
    """Each model's reference (requests as validated, responses as serialized) and the
    ``components/schemas`` they need."""
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in requests]
    pairs += [(m, "serialization") for m in responses]
    refs, top = models_json_schema(list(dict.fromkeys(pairs)), ref_template=REF_TEMPLATE)
    return refs, top.get("$defs", {})
