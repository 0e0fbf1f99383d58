"""Invitations carry their inviter's authority (issue 21, item 4): removing a member (or
demoting an owner) revokes the invitations they sent; owners list and revoke invitations
through /api/v1 and the CLI; a revoked link says so and lets nobody in."""

from __future__ import annotations

from flask import g
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccountInvitation, AccountMember, AdminUser, MemberRole
from app.services import members
from tests.admin.conftest import csrf_token
from tests.management.conftest import PASSWORD, Tenant


def _invite(api, t: Tenant, token: str, email: str, role: str = "owner") -> dict:
    response = api(token)(
        "POST", f"/accounts/{t.account.id}/members", json={"email": email, "role": role}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _second_owner(t: Tenant) -> None:
    """The tenant's plain member becomes a second owner (their token acts as one)."""
    members.change_role(t.owner, t.member_member, MemberRole.OWNER)


def _try_to_join(app, link: str) -> tuple[int, str]:
    """What the invitee's browser gets: the link's page, then the form posted."""
    g.pop("csrf_token", None)
    http = app.test_client()
    page = http.get(link)
    text = page.get_data(as_text=True)
    token = csrf_token(http.get("/admin/login").get_data(as_text=True))
    joined = http.post(link, data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token})
    assert joined.status_code != 302, "the revoked link let someone in"
    return page.status_code, text


def _member_emails(t: Tenant) -> list[str]:
    return list(
        db.session.execute(
            select(AdminUser.email)
            .join(AccountMember, AccountMember.user_id == AdminUser.id)
            .where(AccountMember.account_id == t.account.id)
            .order_by(AdminUser.email)
        ).scalars()
    )


def test_a_removed_owner_cannot_come_back_through_their_invitation(app, api, tenant_a: Tenant):
    _second_owner(tenant_a)
    sent = _invite(api, tenant_a, tenant_a.member_token, "backdoor@evil.test")
    removed = api(tenant_a.owner_token)(
        "DELETE", f"/accounts/{tenant_a.account.id}/members/{tenant_a.member_member.id}"
    )
    assert removed.status_code == 204
    status, page = _try_to_join(app, sent["accept_url"])
    assert status == 404
    assert "this invitation was revoked" in page
    assert _member_emails(tenant_a) == [tenant_a.owner.email]
    listed = api(tenant_a.owner_token)("GET", f"/accounts/{tenant_a.account.id}/invitations")
    assert [(i["email"], i["status"]) for i in listed.get_json()["items"]] == [
        ("backdoor@evil.test", "revoked")
    ]


def test_a_demoted_owners_invitations_are_revoked_and_others_stay(app, api, tenant_a: Tenant):
    _second_owner(tenant_a)
    theirs = _invite(api, tenant_a, tenant_a.member_token, "theirs@alpha.test")
    mine = _invite(api, tenant_a, tenant_a.owner_token, "mine@alpha.test", "member")
    demoted = api(tenant_a.owner_token)(
        "PATCH",
        f"/accounts/{tenant_a.account.id}/members/{tenant_a.member_member.id}",
        json={"role": "member"},
    )
    assert demoted.status_code == 200
    assert _try_to_join(app, theirs["accept_url"])[0] == 404
    still = app.test_client().get(mine["accept_url"])
    assert still.status_code == 200  # the remaining owner's invitation still works
    assert "mine@alpha.test" in still.get_data(as_text=True)


def test_owners_list_and_revoke_invitations_through_the_api(app, api, tenant_a: Tenant):
    sent = _invite(api, tenant_a, tenant_a.owner_token, "later@alpha.test", "member")
    owner = api(tenant_a.owner_token)
    base = f"/accounts/{tenant_a.account.id}/invitations"
    listed = owner("GET", base).get_json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert (item["id"], item["status"], item["invited_by"]) == (
        sent["id"],
        "pending",
        tenant_a.owner.email,
    )
    assert "accept_url" not in item and sent["accept_url"] not in str(listed)
    revoked = owner("DELETE", f"{base}/{sent['id']}")
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["status"] == "revoked"
    assert revoked.get_json()["revoked_at"] is not None
    status, page = _try_to_join(app, sent["accept_url"])
    assert status == 404 and "this invitation was revoked" in page
    again = owner("DELETE", f"{base}/{sent['id']}")
    assert again.status_code == 200 and again.get_json()["status"] == "revoked"
    assert _member_emails(tenant_a) == sorted([tenant_a.owner.email, tenant_a.member.email])


def test_only_owners_of_the_account_see_or_revoke_its_invitations(
    api, tenant_a: Tenant, tenant_b: Tenant
):
    sent = _invite(api, tenant_a, tenant_a.owner_token, "x@alpha.test", "member")
    base = f"/accounts/{tenant_a.account.id}/invitations"
    member = api(tenant_a.member_token)
    assert member("GET", base).status_code == 403
    assert member("DELETE", f"{base}/{sent['id']}").status_code == 403
    stranger = api(tenant_b.owner_token)
    assert stranger("GET", base).status_code == 404
    assert stranger("DELETE", f"{base}/{sent['id']}").status_code == 404
    # Account B's owner names A's invitation under their own account: not found either.
    theirs = f"/accounts/{tenant_b.account.id}/invitations/{sent['id']}"
    assert stranger("DELETE", theirs).status_code == 404
    pending = db.session.execute(
        select(func.count(AccountInvitation.id)).where(AccountInvitation.revoked_at.is_(None))
    ).scalar_one()
    assert pending == 1


def test_an_accepted_invitation_cannot_be_revoked(app, api, tenant_a: Tenant):
    sent = _invite(api, tenant_a, tenant_a.owner_token, "joined@alpha.test", "member")
    http = app.test_client()
    page = http.get(sent["accept_url"]).get_data(as_text=True)
    joined = http.post(
        sent["accept_url"],
        data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert joined.status_code == 302
    refused = api(tenant_a.owner_token)(
        "DELETE", f"/accounts/{tenant_a.account.id}/invitations/{sent['id']}"
    )
    assert refused.status_code == 409
    assert "remove the member instead" in refused.get_json()["error"]["message"]


def test_flask_invitations_list_and_revoke(app, api, tenant_a: Tenant):
    sent = _invite(api, tenant_a, tenant_a.owner_token, "cli@alpha.test", "member")
    number = tenant_a.account.account_number
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["invitations", "list", "--account", number])
    assert listing.exit_code == 0, listing.output
    assert "cli@alpha.test" in listing.output and "pending" in listing.output
    assert sent["accept_url"].rsplit("/", 1)[1] not in listing.output
    revoked = runner.invoke(args=["invitations", "revoke", str(sent["id"]), "--account", number])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked invitation {sent['id']} of cli@alpha.test" in revoked.output
    assert _try_to_join(app, sent["accept_url"])[0] == 404
    unknown = runner.invoke(args=["invitations", "revoke", "999", "--account", number])
    assert unknown.exit_code == 1 and "has no invitation 999" in unknown.output


def test_owners_resend_an_invitation_through_the_api(app, api, tenant_a: Tenant, tenant_b):
    sent = _invite(api, tenant_a, tenant_a.owner_token, "late@alpha.test", "member")
    url = f"/accounts/{tenant_a.account.id}/invitations/{sent['id']}/resend"
    refused = api(tenant_a.member_token)("POST", url)
    assert refused.status_code == 403
    assert api(tenant_b.owner_token)("POST", url).status_code == 404
    other = f"/accounts/{tenant_b.account.id}/invitations/{sent['id']}/resend"
    assert api(tenant_b.owner_token)("POST", other).status_code == 404
    resent = api(tenant_a.owner_token)("POST", url)
    assert resent.status_code == 200, resent.get_json()
    link = resent.get_json()["accept_url"]
    assert link != sent["accept_url"]
    status, text = _try_to_join(app, sent["accept_url"])
    assert status == 404 and "unknown or already used" in text
    listed = api(tenant_a.owner_token)("GET", f"/accounts/{tenant_a.account.id}/members")
    seen = {m["email"]: m["last_seen_at"] for m in listed.get_json()["items"]}
    assert seen[tenant_a.owner.email] is not None  # their token was used just now
    api(tenant_a.owner_token)("DELETE", f"/accounts/{tenant_a.account.id}/invitations/{sent['id']}")
    again = api(tenant_a.owner_token)("POST", url)
    assert again.status_code == 409
    assert "was revoked: invite late@alpha.test anew" in again.get_json()["error"]["message"]
