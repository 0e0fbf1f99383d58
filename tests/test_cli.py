"""The operator CLI: clear output, non-zero exit and nothing changed on bad input."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, AdminUser, ApiKey, LlmClient
from devtools.commands import demo


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(args=list(args), input=input)

    return invoke


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_accounts_create_prints_the_number(cli):
    result = cli("accounts", "create", "--name", "Acme")
    assert result.exit_code == 0
    number = result.output.strip()
    assert re.fullmatch(r"\d{4}-\d{4}-\d{4}", number)
    listing = cli("accounts", "list")
    assert number in listing.output and "Acme" in listing.output


def test_accounts_create_refuses_an_empty_name(cli):
    result = cli("accounts", "create", "--name", "  ")
    assert result.exit_code == 2
    assert "account name" in result.output
    assert count(Account) == 0


@pytest.mark.parametrize(
    "name", ["Acme\nEvil 0000-0000-0000", "Tab\there", "Bell\x07", "RTL\u202egnp"]
)
def test_accounts_create_refuses_control_characters(cli, name):
    """Issue 17, Low: a newline in a name broke `flask accounts list`."""
    result = cli("accounts", "create", "--name", name)
    assert result.exit_code == 2, result.output
    assert "control characters" in result.output
    assert count(Account) == 0


def test_account_numbers_are_immutable(account):
    with pytest.raises(ValueError, match="never changes"):
        account.account_number = "1111-2222-3333"


def test_clients_create_list_show(cli, account):
    number = account.account_number
    result = cli(
        "clients", "create", "support-bot", "--account", number,
        "--system-prompt", "Be brief.", "--require-api-key",
        "--allowed-origin", "https://shop.example.com", "--deployed",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"support-bot.{number}.api.chatdock.test/llm-client/" in result.output
    listing = cli("clients", "list", "--account", number)
    assert "support-bot" in listing.output and "deployed" in listing.output
    shown = cli("clients", "show", "support-bot", "--account", number)
    assert "Be brief." in shown.output
    assert "https://shop.example.com" in shown.output
    assert "requires API key: yes" in shown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Name"], "invalid client name"),
        (["trailing-"], "invalid client name"),
        (["a" * 64], "invalid client name"),
        (["ok", "--temperature", "9"], "temperature"),
        (["ok", "--allowed-origin", "javascript:alert(1)"], "invalid origin"),
    ],
)
def test_clients_create_bad_input(cli, account, args, message):
    result = cli("clients", "create", *args, "--account", account.account_number)
    assert result.exit_code != 0
    assert message in result.output
    assert "Value error" not in result.output  # the console's words too: no pydantic prefix
    assert count(LlmClient) == 0


def test_clients_create_bad_account(cli):
    result = cli("clients", "create", "bot", "--account", "12-34")
    assert result.exit_code == 2 and "invalid account number" in result.output
    result = cli("clients", "create", "bot", "--account", "1234-5678-9012")
    assert result.exit_code == 1 and "no account" in result.output


def test_clients_create_duplicate_name(cli, account):
    assert cli("clients", "create", "bot", "--account", account.account_number).exit_code == 0
    result = cli("clients", "create", "bot", "--account", account.account_number)
    assert result.exit_code == 1 and "already has a client" in result.output
    assert count(LlmClient) == 1


def test_apikeys_create_list_revoke(cli, account, demo):
    number = account.account_number
    result = cli("apikeys", "create", "--account", number, "--client", "demo",
                 "--expires-in-days", "30")  # fmt: skip
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[0]
    assert re.fullmatch(r"cdk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    key_id = key.split("_")[1]
    listing = cli("apikeys", "list", "--account", number)
    assert key_id in listing.output and "demo" in listing.output and "active" in listing.output
    assert key.split("_", 2)[2] not in listing.output
    revoked = cli("apikeys", "revoke", key_id)
    assert revoked.exit_code == 0
    assert revoked.output.startswith(f"revoked {key_id}")
    again = cli("apikeys", "revoke", key_id)
    assert again.exit_code == 0 and "was already revoked at" in again.output
    assert "revoked" in cli("apikeys", "list", "--account", number).output


def test_apikeys_bad_input(cli, account):
    number = account.account_number
    assert cli("apikeys", "create", "--account", number, "--client", "ghost").exit_code == 1
    assert cli("apikeys", "create", "--account", number, "--expires-in-days", "0").exit_code == 2
    assert cli("apikeys", "revoke", "zzz").exit_code == 2
    assert cli("apikeys", "revoke", "0123456789ab").exit_code == 1
    assert count(ApiKey) == 0


def test_users_create_admin(cli):
    result = cli("users", "create-admin", "Ops@Example.com", input="correct horse battery\n" * 2)
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(AdminUser)).scalar_one()
    assert user.email == "ops@example.com"
    assert user.check_password("correct horse battery")
    assert "correct horse battery" not in user.password_hash
    short = cli("users", "create-admin", "x@example.com", "--password", "short")
    assert short.exit_code == 2 and "at least" in short.output
    bad = cli("users", "create-admin", "not-an-email", "--password", "long enough pass")
    assert bad.exit_code == 2
    assert count(AdminUser) == 1


def test_infra_runs_keeps_columns_apart_for_long_workspace_names(cli, account):
    """Issue 17, Low: a workspace key longer than its column ran into the next one."""
    from app.models import InfraRun, RunKind, RunStatus

    long_name = "a-very-long-client-name-that-fills-most-of-a-dns-label-xxxxxxxx"
    for name, status in ((long_name, RunStatus.AWAITING_APPROVAL), ("bot", RunStatus.APPLIED)):
        db.session.add(
            InfraRun(
                workspace_key=f"{account.account_number}/{name}",
                kind=RunKind.PLAN,
                status=status,
                account_id=account.id,
                account_number=account.account_number,
                target_name=name,
                plan_summary={"counts": {"create": 2, "update": 0}},
            )
        )
    db.session.commit()
    result = cli("infra", "runs")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.rstrip("\n").splitlines()
    columns = re.split(r"\s{2,}", header.strip())
    assert columns == ["ID", "KIND", "STATUS", "WORKSPACE", "CHANGES", "CREATED"]
    starts = [header.index(column) for column in columns[1:]]
    for row in rows:
        assert len(re.split(r"\s{2,}", row.strip())) == len(columns), row
        for start in starts:  # every column starts where its heading does, after a gap
            assert row[start - 2 : start] == "  " and row[start] != " ", (row, start)
    assert f"{account.account_number}/{long_name}  2 create" in rows[1]  # newest first


def test_demo_seed_prints_the_commands_with_the_real_account_number(app):
    # `flask demo` is a Flask CLI plugin (devtools), not one of the app's own commands.
    result = app.test_cli_runner().invoke(demo, ["seed", "--port", "5001"])
    assert result.exit_code == 0, result.output
    number = db.session.execute(select(Account.account_number)).scalar_one()
    assert f"export FLASK_APP=wsgi.py ACCOUNT={number}" in result.output
    assert f"http://demo.{number}.api.chatdock.test:5001/llm-client/" in result.output
