"""Answers of the manifest routes of the management API (``/api/v1/apply``,
``/manifests``): the OpenAPI document's schemas are generated from these models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ApplyResult(BaseModel):
    kind: str
    name: str
    account: str
    outcome: str = Field(description="created, changed or unchanged")
    fields: list[str] = Field(description="The fields that differ (changed).")
    line: str = Field(description="As the CLI prints it: `Client/shop: changed (model)`.")


class ApplyOut(BaseModel):
    dry_run: bool
    results: list[ApplyResult]
    infrastructure: list[str] = Field(
        description="The infrastructure changes made after the settings were committed "
        "(a run that waits for review)."
    )


class ManifestOut(BaseModel):
    apiVersion: str
    kind: str
    metadata: dict[str, str]
    spec: dict[str, Any]
    status: dict[str, Any]


class ManifestList(BaseModel):
    items: list[ManifestOut]


class DeleteOut(BaseModel):
    line: str
