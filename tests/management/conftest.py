"""Two accounts with everything a customer owns, and users of every kind with tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import (
    Account,
    AccountMember,
    AdminUser,
    ApiKey,
    CustomDomain,
    DomainStatus,
    InfraRun,
    LlmClient,
    MemberRole,
    RunKind,
    RunStatus,
)
from app.services import accounts, api_keys, notifications, tokens
from app.services.members import add_member
from app.services.users import create_admin, set_user

PASSWORD = "correct horse battery"


@dataclass
class Tenant:
    """One account and one of each object it owns."""

    account: Account
    client: LlmClient
    key: ApiKey
    domain: CustomDomain
    run: InfraRun
    owner: AdminUser
    member: AdminUser
    owner_member: AccountMember
    member_member: AccountMember
    owner_token: str
    member_token: str


def make_tenant(name: str, make_client) -> Tenant:
    account = accounts.create_account(name, f"ops@{name.lower()}.test")
    client = make_client(account, "bot", deployed=False)
    key = api_keys.create_api_key(account, label="k").api_key
    domain = CustomDomain(
        account=account,
        domain=f"{name.lower()}.example",
        status=DomainStatus.VERIFIED,
        zone_id="Z1",
        name_servers=["ns-1.example."],
    )
    db.session.add(domain)
    run = InfraRun(
        workspace_key=f"clients/{account.account_number}/bot",
        kind=RunKind.APPLY,
        status=RunStatus.AWAITING_APPROVAL,
        client_id=client.id,
        account_id=account.id,
        account_number=account.account_number,
        target_name="bot",
        plan_summary={"changes": []},
    )
    db.session.add(run)
    notifications.notify(account, "test", f"hello {name}")
    db.session.commit()
    owner, _ = set_user(f"owner@{name.lower()}.test", PASSWORD, platform_admin=False)
    member, _ = set_user(f"member@{name.lower()}.test", PASSWORD, platform_admin=False)
    owner_member = add_member(account, owner, MemberRole.OWNER)
    member_member = add_member(account, member, MemberRole.MEMBER)
    return Tenant(
        account,
        client,
        key,
        domain,
        run,
        owner,
        member,
        owner_member,
        member_member,
        tokens.create_token(owner).plaintext,
        tokens.create_token(member).plaintext,
    )


@pytest.fixture
def tenant_a(app, make_client) -> Tenant:
    return make_tenant("Alpha", make_client)


@pytest.fixture
def tenant_b(app, make_client) -> Tenant:
    return make_tenant("Bravo", make_client)


@pytest.fixture
def admin_token(app) -> str:
    admin, _ = create_admin("root@chatdock.test", PASSWORD)
    return tokens.create_token(admin).plaintext


class Api:
    """The management API as a caller with one token sees it."""

    def __init__(self, http: FlaskClient, token: str) -> None:
        self.http, self.token = http, token

    def __call__(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)


@pytest.fixture
def api(app):
    def make(token: str) -> Api:
        return Api(app.test_client(), token)

    return make
