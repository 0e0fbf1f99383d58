"""An account with an owner's token and a deployed client, for the tools tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Account, LlmClient, MemberRole
from app.services import accounts, tokens
from app.services.members import add_member
from app.services.users import set_user
from tests.conftest import _empty_tables, host_of


@dataclass
class Customer:
    account: Account
    client: LlmClient
    token: str
    http: FlaskClient

    def api(self, method: str, path: str, body: object = None):
        return self.http.open(
            f"/api/v1{path}",
            method=method,
            headers={"Authorization": f"Bearer {self.token}"},
            data=None if body is None else json.dumps(body),
            content_type="application/json",
        )

    def plugin(self, name: str, spec: dict) -> dict:
        response = self.api(
            "POST", f"/accounts/{self.account.id}/plugins", {"name": name, "spec": spec}
        )
        assert response.status_code == 201, response.json
        return response.json

    def connection(self, name: str, spec: dict) -> dict:
        response = self.api(
            "POST", f"/accounts/{self.account.id}/connections", {"name": name, "spec": spec}
        )
        assert response.status_code == 201, response.json
        return response.json

    def attach(self, plugins: list[str] | None = None, functions: list[str] | None = None):
        body = {"plugins": plugins, "functions": functions}
        response = self.api("PUT", f"/clients/{self.client.id}/tools", body)
        assert response.status_code == 200, response.json
        return response.json

    def chat(self, text: str, **extra):
        return self.http.post(
            "/llm-client/",
            data=json.dumps({"messages": [{"role": "user", "content": text}], **extra}),
            content_type="application/json",
            headers={"Host": host_of(self.client)},
        )


def make_customer(name: str, make_client, http: FlaskClient, **client_fields) -> Customer:
    account = accounts.create_account(name, f"ops@{name.lower()}.test")
    client = make_client(account, "shop", **client_fields)
    owner, _ = set_user(f"owner@{name.lower()}.test", "correct horse battery", platform_admin=False)
    add_member(account, owner, MemberRole.OWNER)
    return Customer(account, client, tokens.create_token(owner).plaintext, http)


@pytest.fixture
def tools_app(make_app):
    """Open an app with these settings: tables emptied, its context pushed meanwhile."""

    @contextlib.contextmanager
    def open_app(**settings) -> Iterator:
        application = make_app(**settings)
        with application.app_context():
            _empty_tables()
            yield application
            db.session.remove()

    return open_app


@pytest.fixture
def customer(app, make_client, http) -> Customer:
    return make_customer("Shop", make_client, http)
