"""The HTTP APIs' request and answer models (pydantic) and the management API's operation
table: below the blueprints that validate and answer with them and the OpenAPI document
built from them, so neither depends on the other."""
