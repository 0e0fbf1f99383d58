"""Which names an account may add as a custom domain, and how they are stored; bad input
to the domain commands is refused with a clear reason and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.domains.names import check_not_public_suffix, check_not_reserved, normalize_domain
from app.errors import InvalidInput
from app.extensions import db
from app.models import CustomDomain, DomainStatus
from app.services import accounts as account_service
from tests.conftest import CUSTOMER_DOMAIN


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("API.Example.COM", "api.example.com"),
        ("example.com.", "example.com"),
        ("  example.org ", "example.org"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.c-d.example.net", "a-b.c-d.example.net"),
    ],
)
def test_names_are_normalized(raw, stored):
    assert normalize_domain(raw) == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "a domain is required"),
        ("192.0.2.10", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("2001:db8::1", "IP address"),
        ("example", "single label"),
        ("exa mple.com", "not a valid domain name"),
        ("-bad.example.com", "not a valid domain name"),
        ("bad-.example.com", "not a valid domain name"),
        ("a..example.com", "not a valid domain name"),
        ("under_score.example.com", "not a valid domain name"),
        (f"{'a' * 64}.example.com", "not a valid domain name"),
        (".".join(["abcdefghi"] * 26) + ".com", "too long"),
        ("10.0.0", "numeric top-level"),
        ("my.localhost", "special-use"),
        ("printer.local", "special-use"),
    ],
)
def test_bad_names_are_refused_with_the_reason(raw, reason):
    with pytest.raises(InvalidInput, match=reason):
        normalize_domain(raw)


@pytest.mark.parametrize(
    "name", [CUSTOMER_DOMAIN, f"bot.{CUSTOMER_DOMAIN}", "chatdock.test", "console.chatdock.io"]
)
def test_platform_domains_their_subdomains_and_parents_are_reserved(name):
    with pytest.raises(InvalidInput, match="overlaps the platform's domain"):
        check_not_reserved(name, [CUSTOMER_DOMAIN, "console.chatdock.io"])


def test_an_unrelated_domain_is_not_reserved():
    check_not_reserved("example.com", [CUSTOMER_DOMAIN, "console.chatdock.io"])


def _domain_count() -> int:
    return db.session.execute(select(func.count()).select_from(CustomDomain)).scalar_one()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("203.0.113.7", "IP address"),
        ("com", "single label"),
        (f"x.{CUSTOMER_DOMAIN}", "overlaps the platform's domain"),
        ("chatdock.test", "overlaps the platform's domain"),
    ],
)
def test_cli_add_refuses_bad_names_and_stores_nothing(app, account, raw, reason):
    result = app.test_cli_runner().invoke(
        args=["domains", "add", raw, "--account", account.account_number]
    )
    assert result.exit_code == 2, result.output
    assert reason in result.output
    assert _domain_count() == 0


def test_a_domain_another_account_verified_is_a_conflict(app, account):
    other = account_service.create_account("Other Inc")
    db.session.add(CustomDomain(account=other, domain="example.com", status=DomainStatus.VERIFIED))
    db.session.commit()
    cli = app.test_cli_runner()
    for raw, reason in [
        ("EXAMPLE.com", "already claimed by another account"),
        ("api.example.com", "overlaps example.com, claimed by another account"),
    ]:
        result = cli.invoke(args=["domains", "add", raw, "--account", account.account_number])
        assert result.exit_code == 1, result.output
        assert reason in result.output
    assert _domain_count() == 1


@pytest.mark.parametrize("raw", ["co.uk", "CO.UK.", "github.io", "com.au", "foo.ck"])
def test_public_suffixes_are_refused(app, account, raw):
    """Issue 17, Medium 6: co.uk was accepted and blocked bank.co.uk for everyone."""
    result = app.test_cli_runner().invoke(
        args=["domains", "add", raw, "--account", account.account_number]
    )
    assert result.exit_code == 2, result.output
    assert "is a public suffix (Public Suffix List)" in result.output
    assert _domain_count() == 0


@pytest.mark.parametrize("raw", ["bank.co.uk", "me.github.io", "example.com.au", "www.ck"])
def test_names_under_a_public_suffix_are_fine(raw):
    check_not_public_suffix(normalize_domain(raw))


def test_adding_needs_redis_and_says_so(app, account):
    result = app.test_cli_runner().invoke(
        args=["domains", "add", "example.com", "--account", account.account_number]
    )
    assert result.exit_code == 1
    assert "REDIS_URL" in result.output
    assert _domain_count() == 0


def test_delete_is_refused_while_a_client_uses_the_domain(app, account, make_client):
    domain = CustomDomain(account=account, domain="example.com", status=DomainStatus.VERIFIED)
    db.session.add(domain)
    client = make_client(account, "bot")
    client.custom_domain = domain
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["domains", "delete", "example.com", "--yes"])
    assert result.exit_code == 1
    assert "used by client(s) bot" in result.output
    assert db.session.get(CustomDomain, domain.id).status == DomainStatus.VERIFIED


def test_attach_refuses_another_accounts_client(app, account, make_client):
    other = account_service.create_account("Other Inc")
    db.session.add(CustomDomain(account=other, domain="example.com"))
    make_client(account, "bot")
    db.session.commit()
    result = app.test_cli_runner().invoke(
        args=[
            "domains",
            "attach",
            "example.com",
            "--client",
            "bot",
            "--account",
            account.account_number,
        ]
    )
    assert result.exit_code == 1
    assert f"no custom domain example.com for account {account.account_number}" in result.output


def test_unknown_domain_and_account(app, account):
    cli = app.test_cli_runner()
    result = cli.invoke(args=["domains", "show", "nothing.example"])
    assert result.exit_code == 1 and "no custom domain nothing.example" in result.output
    result = cli.invoke(args=["domains", "list", "--account", "12-34"])
    assert result.exit_code == 2 and "invalid account number" in result.output
