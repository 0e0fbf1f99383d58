"""docs/manifests.md's full example applies as documented and applies back unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema_rs
import pytest
import yaml
from sqlalchemy import select

from app.extensions import db
from app.manifests import schemas
from app.manifests.kinds import KINDS
from app.models import LlmClient, ProviderConnection
from app.services import accounts
from tests.conftest import _empty_tables

DOC = Path(__file__).resolve().parents[2] / "docs" / "manifests.md"


@pytest.fixture
def app(make_app):
    """Loopback allowed: the example's public base URL is swapped for one that resolves
    offline (the guard resolves the host when a connection is saved)."""
    application = make_app(TOOLS_ALLOWED_NETWORKS="127.0.0.0/8")
    with application.app_context():
        _empty_tables()
        yield application
        db.session.remove()


def example() -> str:
    section = DOC.read_text().split("### A full example", 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found, "the example's yaml block"
    return found.group(1)


def test_the_documented_example_applies_and_reads_back(cli, write):
    shop = accounts.create_account("Shop")
    text = example().replace("3141-5926-5359", shop.account_number)
    text = text.replace("https://llm.shop.example/v1", "http://127.0.0.1:9/v1")
    path = write(text)
    expected = (
        "ProviderConnection/shop-vllm: created\n"
        "ProviderConnection/shop-anthropic: created\n"
        "Client/shop: created\n"
    )
    assert cli("apply", "-f", path, "--dry-run").output == expected
    assert db.session.scalars(select(LlmClient)).all() == []
    assert cli("apply", "-f", path).output == expected
    client = db.session.execute(select(LlmClient)).scalar_one()
    assert (client.model, client.provider_connection.name, client.max_tokens) == (
        "shop-llama-70b",
        "shop-vllm",
        800,
    )
    assert [f["model"] for f in client.fallbacks] == ["claude-haiku-4-5-20251001", "gpt-4.1-mini"]
    assert len(db.session.scalars(select(ProviderConnection)).all()) == 2
    assert cli("apply", "-f", path).output == expected.replace("created", "unchanged")
    shown = cli("clients", "show", "shop", "--account", shop.account_number).output
    assert "connection:       shop-vllm\n" in shown
    assert "fallbacks:        claude-haiku-4-5-20251001 (shop-anthropic), gpt-4.1-mini\n" in shown
    for kind in ("client", "providerconnection"):
        got = cli("get", kind, "--account", shop.account_number)
        assert "sk-shop-example" not in got.output and "sk-ant-shop-example" not in got.output
        again = cli("apply", "-f", write(got.output, "got.yaml"))
        assert again.exit_code == 0
        assert all(line.endswith(": unchanged") for line in again.output.splitlines())


def test_the_example_documents_meet_their_kinds_json_schemas():
    documents = list(yaml.safe_load_all(example()))
    for kind in KINDS.values():
        schema = schemas.kind_schema(kind)
        assert jsonschema_rs.meta.is_valid(schema), kind.name
        validator = jsonschema_rs.Draft202012Validator(schema)
        mine = [d for d in documents if d["kind"] == kind.name]
        assert mine and all(validator.is_valid(d) for d in mine), kind.name
        assert not validator.is_valid({**mine[0], "spec": {"modle": "x"}})  # no unknown field
