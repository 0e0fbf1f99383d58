"""The manifest shapes of ``Plugin`` and ``Connection`` (camelCase, unknown fields
refused) and how a plugin's declared parameters become its tool's JSON Schema.

The console, ``/api/v1`` and manifests all validate through these models, so a rule
lives once."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

# What OpenAI and Anthropic both accept as a function name.
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PARAMETER_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


class Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Selector(Spec):
    """``always`` or the words/phrases of the latest user message that select the tool."""

    always: bool = False
    search_terms: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _one_of(self) -> Selector:
        if not self.always and not [t for t in self.search_terms if t.strip()]:
            raise ValueError("set always: true or give searchTerms")
        return self


class Parameter(Spec):
    name: str
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str = Field("", max_length=1000)
    required: bool = False
    enum: list[Any] | None = None
    default: Any = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PARAMETER_NAME.match(value):
            raise ValueError("a parameter name is letters, digits and _ (not first a digit)")
        return value

    @model_validator(mode="after")
    def _typed_values(self) -> Parameter:
        kind = JSON_TYPES[self.type]
        for value in [*(self.enum or []), *([self.default] if self.default is not None else [])]:
            wrong = isinstance(value, bool) != (self.type == "boolean")
            if wrong or not isinstance(value, kind):
                raise ValueError(f"{value!r} is not a {self.type}")
        return self


class StaticBlock(Spec):
    data: Any


class SqlBlock(Spec):
    connection: str
    query: str = Field(min_length=1, max_length=20_000)
    limit: int | None = Field(None, ge=1)

    @field_validator("query")
    @classmethod
    def _one_statement(cls, value: str) -> str:
        # One statement: a second one could end the read-only transaction ("commit; ...").
        value = value.strip().rstrip(";").strip()
        if ";" in value:
            raise ValueError("the query is one statement (no ';' inside it)")
        return value


class ApiBlock(Spec):
    connection: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field("/", max_length=2000)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("the path starts with /")
        return value


class PluginSpec(Spec):
    type: Literal["static", "sql", "api"]
    description: str = Field("", max_length=2000)
    selector: Selector = Selector(always=True)
    parameters: list[Parameter] = Field(default_factory=list, max_length=50)
    static: StaticBlock | None = None
    sql: SqlBlock | None = None
    api: ApiBlock | None = None

    @model_validator(mode="after")
    def _block(self) -> PluginSpec:
        blocks = {"static": self.static, "sql": self.sql, "api": self.api}
        if blocks[self.type] is None:
            raise ValueError(f"a {self.type} plugin needs its {self.type} block")
        extra = [k for k, v in blocks.items() if v is not None and k != self.type]
        if extra:
            raise ValueError(f"a {self.type} plugin has no {', '.join(extra)} block")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be unique")
        if self.sql is not None:
            binds = set(re.findall(r"(?<![:\w]):([a-zA-Z_]\w*)", self.sql.query))
            missing = binds - set(names)
            if missing:
                raise ValueError(f"the query binds undeclared parameters: {sorted(missing)}")
        if self.api is not None:
            missing = set(PLACEHOLDER.findall(self.api.path)) - set(names)
            if missing:
                raise ValueError(f"the path uses undeclared parameters: {sorted(missing)}")
        return self

    @property
    def connection(self) -> str | None:
        block = self.sql or self.api
        return block.connection if block is not None else None


class Header(Spec):
    name: str
    value: str = Field(max_length=8000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not HEADER_NAME.match(value):
            raise ValueError("not a valid HTTP header name")
        return value


# What a read shows in place of a secret; written back, it keeps the stored value (so a
# spec read back applies with no change).
SECRET_STATES = ("set", "unset")


class ApiConnectionBlock(Spec):
    base_url: str = Field(max_length=2000)
    # Secret. None, "set" or "unset": keep the stored ones.
    headers: list[Header] | Literal["set", "unset"] | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/?#\s]+", value):
            raise ValueError("baseUrl is an http:// or https:// URL")
        return value.rstrip("/")


class SqlConnectionBlock(Spec):
    url: str = Field(max_length=2000)
    # Secret. None, "set" or "unset": keep the stored one; "": none.
    password: str | None = Field(None, max_length=1000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(postgresql|postgres|mysql)(\+\w+)?://", value):
            raise ValueError("url is a postgresql:// or mysql:// URL")
        return value


class ConnectionSpec(Spec):
    type: Literal["api", "sql"]
    api: ApiConnectionBlock | None = None
    sql: SqlConnectionBlock | None = None

    @model_validator(mode="after")
    def _block(self) -> ConnectionSpec:
        if (self.api if self.type == "api" else self.sql) is None:
            raise ValueError(f"an {self.type} connection needs its {self.type} block")
        if (self.sql if self.type == "api" else self.api) is not None:
            raise ValueError(f"an {self.type} connection has only its {self.type} block")
        return self


def parameters_schema(parameters: list[Parameter]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12 object) the model is shown and arguments must match."""
    properties: dict[str, Any] = {}
    for p in parameters:
        prop: dict[str, Any] = {"type": p.type}
        if p.description:
            prop["description"] = p.description
        if p.enum is not None:
            prop["enum"] = p.enum
        if p.default is not None:
            prop["default"] = p.default
        properties[p.name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": [p.name for p in parameters if p.required],
        "additionalProperties": False,
    }
