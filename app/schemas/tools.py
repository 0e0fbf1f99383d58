"""Bodies and answers of the management API's plugins and connections. The specs are
the manifest's (:mod:`app.tools.specs`); secrets come back as ``set``/``unset`` only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.tools.specs import ConnectionSpec, PluginSpec


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionIn(Body):
    name: str = Field(description="Unique in the account; plugins refer to it by name.")
    spec: ConnectionSpec


class ConnectionUpdate(Body):
    spec: ConnectionSpec = Field(description="Secrets left out keep their stored value.")


class ConnectionOut(BaseModel):
    id: int
    account_id: int
    name: str
    type: str
    spec: dict[str, Any] = Field(description="The manifest's spec; secrets as set/unset.")
    created_at: datetime


class ConnectionList(BaseModel):
    items: list[ConnectionOut]


class PluginIn(Body):
    name: str = Field(description="The tool's function name: 1-64 letters, digits, _ or -.")
    spec: PluginSpec


class PluginUpdate(Body):
    spec: PluginSpec


class PluginOut(BaseModel):
    id: int
    account_id: int
    name: str
    type: str
    spec: dict[str, Any]
    client_ids: list[int]
    created_at: datetime


class PluginList(BaseModel):
    items: list[PluginOut]


class ToolTestIn(Body):
    arguments: dict[str, Any] = Field(default_factory=dict, description="Sample arguments.")


class ToolTestOut(BaseModel):
    outcome: str = Field(description="ok, error, invalid, timeout or refused.")
    result: str = Field(description="What the model would be given.")
    duration_ms: int | None = None


class ClientToolsIn(Body):
    plugins: list[str] | None = Field(None, description="Plugin names; omitted: unchanged.")
    functions: list[str] | None = Field(
        None, description="Built-in functions (calculator, date_calculator, current_time)."
    )


class ClientToolsOut(BaseModel):
    client_id: int
    plugins: list[str]
    functions: list[str]
