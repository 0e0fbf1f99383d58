"""Roles: what a member, an owner and a platform admin may do; tokens; invitations;
Idempotency-Key."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import g
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AccountInvitation,
    AccountMember,
    LlmClient,
    MemberRole,
    Notification,
    PersonalAccessToken,
    RunStatus,
)
from app.models.common import utcnow
from app.services import tokens as tokens_service
from tests.admin.conftest import csrf_token
from tests.management.conftest import PASSWORD, Tenant


def test_a_member_cannot_approve_a_plan(api, tenant_a: Tenant):
    response = api(tenant_a.member_token)("POST", f"/runs/{tenant_a.run.id}/approve")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "admin_only"
    db.session.refresh(tenant_a.run)
    assert tenant_a.run.status == RunStatus.AWAITING_APPROVAL
    assert tenant_a.run.approved_by is None


def test_a_member_cannot_create_accounts_or_change_the_catalog(api, tenant_a: Tenant):
    caller = api(tenant_a.owner_token)
    response = caller("POST", "/accounts", json={"name": "Mine"})
    assert response.status_code == 403
    assert caller("POST", "/models", json={"provider": "echo", "name": "x"}).status_code == 405
    assert caller("GET", "/accounts").get_json()["total"] == 1


def _console(app, email: str):
    g.pop("csrf_token", None)  # the test's app context (and g) outlives each client
    http = app.test_client()
    page = http.get("/admin/login").get_data(as_text=True)
    response = http.post(
        "/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return http


def test_a_member_reaches_neither_the_rq_dashboard_nor_admin_only_pages(
    app, tenant_a: Tenant, tenant_b: Tenant
):
    http = _console(app, tenant_a.owner.email)
    assert http.get("/admin/rq/").status_code == 403
    assert http.get("/admin/accounts/new").status_code == 403
    run_page = http.get(f"/admin/runs/{tenant_a.run.id}").get_data(as_text=True)
    assert "awaiting review by the platform" in run_page
    assert "Approve and apply" not in run_page
    approve = http.post(
        f"/admin/runs/{tenant_a.run.id}/approve", data={"csrf_token": csrf_token(run_page)}
    )
    assert approve.status_code == 403
    db.session.refresh(tenant_a.run)
    assert tenant_a.run.status == RunStatus.AWAITING_APPROVAL
    for page in ("/admin/", "/admin/accounts", "/admin/clients", "/admin/runs", "/admin/domains"):
        text = http.get(page).get_data(as_text=True)
        assert tenant_b.account.name not in text and tenant_b.domain.domain not in text, page
        assert tenant_b.account.account_number not in text, page
    accounts = http.get("/admin/accounts").get_data(as_text=True)
    assert tenant_a.account.name in accounts and "New account" not in accounts
    assert tenant_a.domain.domain in http.get("/admin/domains").get_data(as_text=True)


def test_nobody_raises_their_own_role(api, tenant_a: Tenant):
    url = f"/accounts/{tenant_a.account.id}/members/{tenant_a.member_member.id}"
    response = api(tenant_a.member_token)("PATCH", url, json={"role": "owner"})
    assert response.status_code == 403
    db.session.refresh(tenant_a.member_member)
    assert tenant_a.member_member.role == MemberRole.MEMBER
    own = f"/accounts/{tenant_a.account.id}/members/{tenant_a.owner_member.id}"
    assert api(tenant_a.owner_token)("PATCH", own, json={"role": "member"}).status_code == 403


def test_an_owner_manages_the_members_of_their_account_only(
    api, tenant_a: Tenant, tenant_b: Tenant
):
    owner = api(tenant_a.owner_token)
    mine = f"/accounts/{tenant_a.account.id}/members/{tenant_a.member_member.id}"
    response = owner("PATCH", mine, json={"role": "owner"})
    assert response.status_code == 200
    assert response.get_json()["role"] == "owner"
    theirs = f"/accounts/{tenant_b.account.id}/members/{tenant_b.member_member.id}"
    assert owner("PATCH", theirs, json={"role": "owner"}).status_code == 404
    assert owner("DELETE", theirs).status_code == 404
    assert owner("DELETE", mine).status_code == 204
    assert db.session.get(AccountMember, tenant_b.member_member.id) is not None
    members = owner("GET", f"/accounts/{tenant_a.account.id}/members").get_json()["items"]
    assert [m["email"] for m in members] == [tenant_a.owner.email]


def test_the_last_owner_stays(api, tenant_a: Tenant, admin_token: str):
    url = f"/accounts/{tenant_a.account.id}/members/{tenant_a.owner_member.id}"
    response = api(admin_token)("DELETE", url)
    assert response.status_code == 409
    assert "last owner" in response.get_json()["error"]["message"]


def test_tokens_are_required_hashed_and_revocable(app, api, tenant_a: Tenant):
    assert api("")("GET", "/accounts").status_code == 401
    bad = api("cdp_000000000000_" + "a" * 43)("GET", "/accounts")
    assert bad.status_code == 401
    assert bad.get_json()["error"]["code"] == "token_invalid"
    secret = tenant_a.member_token.split("_", 2)[2]  # cdp_<id>_<secret>; the secret may hold "_"
    stored = db.session.execute(select(PersonalAccessToken.secret_hash)).scalars().all()
    assert all(secret not in value for value in stored)
    token_id = tenant_a.member_token.split("_")[1]
    http = _console(app, tenant_a.member.email)
    page = http.get("/admin/tokens").get_data(as_text=True)
    assert token_id in page and secret not in page
    http.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(page)})
    revoked = api(tenant_a.member_token)("GET", "/accounts")
    assert revoked.status_code == 401
    assert revoked.get_json()["error"]["code"] == "token_revoked"


def test_an_expired_token_is_refused(api, tenant_a: Tenant):
    token = db.session.execute(
        select(PersonalAccessToken).where(PersonalAccessToken.user_id == tenant_a.owner.id)
    ).scalar_one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = api(tenant_a.owner_token)("GET", "/accounts")
    assert response.get_json()["error"]["code"] == "token_expired"


def test_the_console_shows_a_new_token_once_and_it_works(app, api, tenant_a: Tenant):
    http = _console(app, tenant_a.member.email)
    page = http.get("/admin/tokens").get_data(as_text=True)
    created = http.post(
        "/admin/tokens",
        data={"label": "ci", "expires_in_days": "7", "csrf_token": csrf_token(page)},
    )
    assert created.status_code == 303  # post/redirect/get: a reload makes no second token
    shown = http.get(created.headers["Location"])
    assert shown.headers["Cache-Control"] == "no-store"
    plaintext = re.search(r'id="new-token"[^>]*value="(cdp_[^"]+)"', shown.get_data(as_text=True))
    plaintext = plaintext.group(1)
    again = http.get(created.headers["Location"]).get_data(as_text=True)
    assert plaintext not in again and "Token already shown" in again
    assert plaintext not in http.get("/admin/tokens").get_data(as_text=True)
    assert len(tokens_service.list_tokens(tenant_a.member)) == 2  # the fixture's and this one
    assert api(plaintext)("GET", "/accounts").status_code == 200


def test_flask_tokens_create_prints_a_working_token_once(app, api, tenant_a: Tenant):
    result = app.test_cli_runner().invoke(
        args=["tokens", "create", tenant_a.member.email, "--expires-in-days", "3"]
    )
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert api(plaintext)("GET", f"/accounts/{tenant_a.account.id}").status_code == 200
    listed = app.test_cli_runner().invoke(args=["tokens", "list", tenant_a.member.email])
    assert plaintext not in listed.output
    bad = app.test_cli_runner().invoke(
        args=["tokens", "create", tenant_a.member.email, "--expires-in-days", "0"]
    )
    assert bad.exit_code == 2


def test_idempotency_key_replays_and_creates_once(api, tenant_a: Tenant):
    caller = api(tenant_a.member_token)
    url = f"/accounts/{tenant_a.account.id}/clients"
    headers = {"Idempotency-Key": "create-helper-1"}
    first = caller("POST", url, json={"name": "helper"}, headers=headers)
    again = caller("POST", url, json={"name": "helper"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    count = db.session.execute(
        select(func.count(LlmClient.id)).where(LlmClient.name == "helper")
    ).scalar_one()
    assert count == 1
    other = caller("POST", url, json={"name": "other"}, headers=headers)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_conflict"
    assert caller("POST", url, json={"name": "helper"}).status_code == 409  # no key: a retry


def test_a_replayed_key_creation_never_repeats_the_secret(api, tenant_a: Tenant):
    caller = api(tenant_a.member_token)
    url = f"/accounts/{tenant_a.account.id}/api-keys"
    headers = {"Idempotency-Key": "key-1"}
    first = caller("POST", url, json={"label": "web"}, headers=headers).get_json()
    again = caller("POST", url, json={"label": "web"}, headers=headers).get_json()
    assert first["key"].startswith("cdk_")
    assert again["key"] is None and again["id"] == first["id"]


def test_a_client_shows_serving_apart_from_its_pending_change(api, tenant_a: Tenant):
    body = api(tenant_a.member_token)("GET", f"/clients/{tenant_a.client.id}").get_json()
    assert body["serving"] is False
    assert body["pending_change"]["run_id"] == tenant_a.run.id
    assert body["pending_change"]["status"] == "awaiting_approval"
    assert body["pending_change"]["text"] == f"change awaiting review (run {tenant_a.run.id})"


def test_an_invitation_is_emailed_once_and_joins_the_account(app, api, tenant_a: Tenant):
    response = api(tenant_a.owner_token)(
        "POST",
        f"/accounts/{tenant_a.account.id}/members",
        json={"email": "New.Person@Alpha.test", "role": "member"},
    )
    assert response.status_code == 201, response.get_json()
    token = re.search(r"^http://\S+/admin/invitations/(\S+)$", response.get_json()["accept_url"])
    token = token.group(1)
    notice = db.session.execute(
        select(Notification).where(Notification.kind == "member_invited")
    ).scalar_one()
    assert token not in notice.body  # members read notices: the link is not among them
    stored = db.session.execute(select(AccountInvitation.token_hash)).scalar_one()
    assert token not in stored
    http = app.test_client()
    page = http.get(f"/admin/invitations/{token}").get_data(as_text=True)
    assert "new.person@alpha.test" in page
    short = http.post(
        f"/admin/invitations/{token}",
        data={"password": "short", "confirm": "short", "csrf_token": csrf_token(page)},
    )
    assert "at least 12 characters" in short.get_data(as_text=True)
    joined = http.post(
        f"/admin/invitations/{token}",
        data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert joined.status_code == 302
    assert http.get(f"/admin/invitations/{token}").status_code == 404  # single use
    member_api = http.get("/admin/tokens")
    assert member_api.status_code == 200  # signed in as the new member
    members = api(tenant_a.owner_token)("GET", f"/accounts/{tenant_a.account.id}/members")
    assert "new.person@alpha.test" in [m["email"] for m in members.get_json()["items"]]


def test_a_member_cannot_invite_and_an_expired_invitation_is_refused(app, api, tenant_a: Tenant):
    url = f"/accounts/{tenant_a.account.id}/members"
    refused = api(tenant_a.member_token)("POST", url, json={"email": "x@alpha.test"})
    assert refused.status_code == 403
    sent = api(tenant_a.owner_token)("POST", url, json={"email": "late@alpha.test"}).get_json()
    token = sent["accept_url"].rsplit("/", 1)[1]
    invitation = db.session.execute(select(AccountInvitation)).scalar_one()
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert app.test_client().get(f"/admin/invitations/{token}").status_code == 404


def test_an_invitation_never_sets_an_existing_users_password(
    app, api, tenant_a: Tenant, admin_token: str
):
    """An owner inviting a platform admin's address cannot take that user over."""
    url = f"/accounts/{tenant_a.account.id}/members"
    sent = api(tenant_a.owner_token)("POST", url, json={"email": "root@chatdock.test"})
    link = sent.get_json()["accept_url"]
    http = app.test_client()
    page = http.get(link).get_data(as_text=True)
    assert "sign in as root@chatdock.test" in page
    http.post(
        link,
        data={
            "password": "an owner's choice",
            "confirm": "an owner's choice",
            "csrf_token": csrf_token(page),
        },
    )
    assert db.session.execute(select(AccountInvitation.accepted_at)).scalar_one() is None
    refused = http.post(
        "/admin/login",
        data={
            "email": "root@chatdock.test",
            "password": "an owner's choice",
            "csrf_token": csrf_token(http.get("/admin/login").get_data(as_text=True)),
        },
    )
    assert refused.status_code == 401
    admin = _console(app, "root@chatdock.test")
    page = admin.get(link).get_data(as_text=True)
    joined = admin.post(link, data={"csrf_token": csrf_token(page)})
    assert joined.status_code == 302, joined.get_data(as_text=True)
    assert db.session.execute(select(AccountInvitation.accepted_at)).scalar_one() is not None


def test_flask_users_create_member_makes_a_customer_of_one_account(app, api, tenant_a: Tenant):
    number = tenant_a.account.account_number
    result = app.test_cli_runner().invoke(
        args=["users", "create-member", "new@alpha.test", "--account", number, "--role", "owner"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert f"new@alpha.test is owner of account {number}" in result.output
    token = app.test_cli_runner().invoke(args=["tokens", "create", "new@alpha.test"]).stdout
    accounts = api(token.strip())("GET", "/accounts").get_json()["items"]
    assert [(a["id"], a["role"]) for a in accounts] == [(tenant_a.account.id, "owner")]
    again = app.test_cli_runner().invoke(
        args=["users", "create-member", "new@alpha.test", "--account", number],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert again.exit_code == 1 and "already a member" in again.output
