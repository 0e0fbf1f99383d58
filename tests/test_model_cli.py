"""Models the catalog does not list: offered by an operator, then usable by clients."""

from __future__ import annotations

from tests.catalog_support import invoke


def test_a_self_hosted_model_can_be_offered_and_used(app, account):
    result = invoke(app, "models", "add", "openai", "llama3", "--token-limit", "8192")
    assert result.exit_code == 0, result.output
    result = invoke(
        app,
        "clients",
        "create",
        "local",
        "--account",
        account.account_number,
        "--provider",
        "openai",
        "--model",
        "llama3",
    )
    assert result.exit_code == 0, result.output
    assert invoke(app, "models", "add", "openai", "llama3").exit_code == 1  # exists
    assert invoke(app, "models", "add", "openai", "gpt-4-turbo").exit_code == 2  # deleted
    assert invoke(app, "models", "add", "openai", "bad name!").exit_code == 2
    invoke(app, "models", "sync")
    assert "llama3" in invoke(app, "models", "list", "--provider", "openai").output
