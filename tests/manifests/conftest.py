"""Manifests as a user applies them: the CLI (flask apply/get/delete) and files."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.models import Account
from app.services import accounts


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | bytes | None = None):
        return runner.invoke(args=list(args), input=input)

    return invoke


@pytest.fixture
def shop(app) -> Account:
    return accounts.create_account("Shop")


@pytest.fixture
def write(tmp_path: Path):
    def make(text: str | bytes, name: str = "m.yaml") -> str:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return str(path)

    return make
