"""The account page lists its provider connections with the key as set/unset only."""

from __future__ import annotations

from app.services import accounts
from app.services.provider_connections import ConnectionSpec, save_connection


def test_the_account_page_shows_connections_but_never_a_key(console):
    account = accounts.create_account("Shop")
    spec = ConnectionSpec(type="anthropic", api_key="sk-ant-never-shown")
    save_connection(account, "claude", spec)
    page = console.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    section = page.split('id="provider-connections"', 1)[1].split("</section>", 1)[0]
    assert "<code>claude</code>" in section and "anthropic" in section
    assert ">set<" in section
    assert "sk-ant-never-shown" not in page
