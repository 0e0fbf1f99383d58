"""A Client manifest publishes the client: ``spec.appearance`` (camelCase, as the issue's
YAML writes it) and ``spec.identity``; ``get`` reads them back and applying that again
changes nothing; a bad logo URL is refused with nothing changed."""

from __future__ import annotations

import yaml
from sqlalchemy import select

from app.extensions import db
from app.models import LlmClient
from tests.manifests.test_apply_cli import client_doc


def test_a_manifest_sets_the_appearance_and_reads_back(cli, shop, write):
    looks = {
        "displayName": "Shop help",
        "welcomeMessage": "Hi! Ask me about your order.",
        "examplePrompts": ["Where is my parcel?"],
        "accentColor": "#0F766E",
    }
    bad = write(client_doc(shop, appearance={"logoUrl": "http://cdn.example/l.png"}))
    refused = cli("apply", "-f", bad)
    assert refused.exit_code == 2 and "https://" in refused.output
    assert db.session.execute(select(LlmClient)).first() is None

    applied = cli("apply", "-f", write(client_doc(shop, appearance=looks, identity="optional")))
    assert applied.exit_code == 0, applied.output
    db.session.rollback()
    client = db.session.execute(select(LlmClient)).scalar_one()
    assert client.appearance["welcome_message"] == "Hi! Ask me about your order."
    assert client.appearance["accent_color"] == "#0f766e"
    assert client.identity_mode == "optional"

    got = cli("get", "clients", "--account", shop.account_number)
    assert got.exit_code == 0, got.output
    shown = yaml.safe_load(got.output)["spec"]
    assert shown["appearance"]["displayName"] == "Shop help", shown
    assert shown["identity"] == "optional"
    again = cli("apply", "-f", write(got.output, "back.yaml"))
    assert again.exit_code == 0 and again.output.endswith(": unchanged\n"), again.output
