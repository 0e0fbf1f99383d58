"""An account's members and invitations in the console (owners), the CLI's members and
invitations commands, and the words customers read on the way in."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import AccountInvitation, AccountMember, MemberRole
from app.models.common import utcnow
from app.services import members, tokens
from app.services.members import add_member
from app.services.users import find_user, set_user
from tests.admin.conftest import ADMIN_PASSWORD, new_browser, post_form, sign_in

OWNER, MEMBER = "owner@acme.test", "dev@acme.test"


def _people(account):
    owner, _ = set_user(OWNER, ADMIN_PASSWORD, platform_admin=False)
    member, _ = set_user(MEMBER, ADMIN_PASSWORD, platform_admin=False)
    add_member(account, owner, MemberRole.OWNER)
    add_member(account, member, MemberRole.MEMBER)
    return owner, member


def _browser(app, email: str):
    http = new_browser(app)
    assert sign_in(http, email).status_code == 302
    return http


def _invite(http, account, email: str, role: str = "member"):
    page = f"/admin/accounts/{account.id}"
    return post_form(http, page, f"{page}/invitations", {"email": email, "role": role})


def test_an_owner_invites_and_the_link_is_shown_once(app, account):
    _people(account)
    owner = _browser(app, OWNER)
    sent = _invite(owner, account, "new@acme.test")
    assert sent.status_code == 303
    shown = owner.get(sent.headers["Location"])
    assert shown.headers["Cache-Control"] == "no-store"
    link = re.search(r'id="invitation-link"[^>]*value="([^"]+)"', shown.get_data(as_text=True))
    assert link and "/admin/invitations/" in link.group(1)
    again = owner.get(sent.headers["Location"]).get_data(as_text=True)
    assert link.group(1) not in again and "already shown" in again
    page = owner.get(f"/admin/accounts/{account.id}").get_data(as_text=True)
    assert 'id="members-table"' in page and 'id="invitations-table"' in page
    assert "new@acme.test" in page and link.group(1) not in page
    assert [m.user.email for m in members.list_members(account)] == [OWNER, MEMBER]


def test_resend_replaces_the_link_and_revoke_ends_it(app, account):
    _people(account)
    owner = _browser(app, OWNER)
    first = _invite(owner, account, "new@acme.test")
    old = re.search(r'value="(http[^"]+)"', owner.get(first.headers["Location"]).text).group(1)
    invitation_id = db.session.execute(select(AccountInvitation.id)).scalar_one()
    base = f"/admin/accounts/{account.id}"
    resent = post_form(owner, base, f"{base}/invitations/{invitation_id}/resend")
    new = re.search(r'value="(http[^"]+)"', owner.get(resent.headers["Location"]).text).group(1)
    assert new != old
    visitor = new_browser(app)
    assert "unknown or already used" in visitor.get(old).text
    assert visitor.get(new).status_code == 200
    post_form(owner, base, f"{base}/invitations/{invitation_id}/revoke")
    gone = visitor.get(new)
    assert gone.status_code == 404 and "was revoked" in gone.text
    assert (
        "new@acme.test" not in owner.get(base).text.split('id="members"')[1].split("</section>")[0]
    )


def test_owners_change_roles_and_remove_but_never_their_own_nor_the_last_owner(app, account):
    _people(account)
    http = _browser(app, OWNER)
    base = f"/admin/accounts/{account.id}"
    ids = {m.user.email: m.id for m in members.list_members(account)}
    own = post_form(http, base, f"{base}/members/{ids[OWNER]}/role", {"role": "member"})
    assert own.status_code == 302
    assert "you cannot change your own role" in http.get(base).text
    post_form(http, base, f"{base}/members/{ids[MEMBER]}/role", {"role": "owner"})
    db.session.expire_all()
    assert db.session.get(AccountMember, ids[MEMBER]).role == MemberRole.OWNER
    assert "dev@acme.test is now owner." in http.get(base).text
    post_form(http, base, f"{base}/members/{ids[MEMBER]}/remove")
    db.session.expire_all()
    assert db.session.get(AccountMember, ids[MEMBER]) is None
    removed = post_form(http, base, f"{base}/members/{ids[OWNER]}/remove")
    assert removed.status_code == 302
    assert "last owner cannot be removed" in http.get(base).text
    db.session.expire_all()
    assert db.session.get(AccountMember, ids[OWNER]) is not None


def test_a_member_sees_the_members_but_cannot_manage_them(app, account, make_client):
    from app.services.accounts import create_account

    _people(account)
    other = create_account("Other")
    http = _browser(app, MEMBER)
    base = f"/admin/accounts/{account.id}"
    page = http.get(base).text
    assert 'id="members-table"' in page and "Last seen" in page
    assert 'id="invitations-table"' not in page and "Invite someone" not in page
    refused = _invite(http, account, "x@acme.test")
    assert refused.status_code == 302
    assert "only an owner of this account may manage its members" in http.get(base).text
    assert db.session.execute(select(AccountInvitation)).first() is None
    owner_id = members.member_by_email(account, OWNER).id
    post_form(http, base, f"{base}/members/{owner_id}/remove")
    assert members.member_by_email(account, OWNER)
    elsewhere = post_form(
        http, base, f"/admin/accounts/{other.id}/invitations", {"email": "x@a.test"}
    )
    assert elsewhere.status_code == 404


def test_the_invitation_page_asks_for_the_password_twice(app, account):
    _people(account)
    owner = _browser(app, OWNER)
    sent = _invite(owner, account, "new@acme.test")
    link = re.search(r'value="(http[^"]+)"', owner.get(sent.headers["Location"]).text).group(1)
    path = link.split("localhost", 1)[1]
    visitor = new_browser(app)
    page = visitor.get(path).text
    assert "Repeat the password" in page
    differ = post_form(
        visitor, path, path, {"password": "one long password", "confirm": "another one!!"}
    )
    assert differ.status_code == 400 and "the two passwords differ" in differ.text
    assert (
        members.invitation_status(db.session.execute(select(AccountInvitation)).scalar_one())
        == "pending"
    )
    joined = post_form(
        visitor, path, path, {"password": "one long password", "confirm": "one long password"}
    )
    assert joined.status_code == 302
    page = owner.get(f"/admin/accounts/{account.id}").text
    row = page.split('data-member="new@acme.test"')[1].split("</tr>")[0]
    assert "never" not in row and "UTC" in row  # last seen: signed in on joining


def test_the_login_page_speaks_to_customers(app):
    page = app.test_client().get("/admin/login").text
    assert "create-admin" not in page and "invites you" in page


def test_cli_invites_resends_lists_changes_roles_and_removes(app, account):
    _people(account)
    number = account.account_number
    runner = app.test_cli_runner()

    def cli(*args: str):
        return runner.invoke(args=list(args))

    made = cli("invitations", "create", "new@acme.test", "--account", number, "--role", "owner")
    assert made.exit_code == 0, made.output
    link = made.stdout.strip()
    assert link.startswith("http://localhost:5000/admin/invitations/")
    invitation_id = db.session.execute(select(AccountInvitation.id)).scalar_one()
    again = cli(
        "invitations",
        "resend",
        str(invitation_id),
        "--account",
        number,
        "--base-url",
        "https://console.example",
    )
    assert again.exit_code == 0 and again.stdout.startswith("https://console.example/admin/")
    listed = cli("members", "list", "--account", number)
    assert listed.exit_code == 0
    assert [line.split()[:2] for line in listed.output.splitlines()[1:]] == [
        [OWNER, "owner"],
        [MEMBER, "member"],
    ]
    last = cli("members", "set-role", OWNER, "--account", number, "--role", "member")
    assert last.exit_code == 1 and "last owner stays an owner" in last.output
    assert cli("members", "set-role", MEMBER, "--account", number, "--role", "owner").exit_code == 0
    removed = cli("members", "remove", MEMBER, "--account", number)
    assert removed.exit_code == 0 and f"removed {MEMBER}" in removed.output
    unknown = cli("members", "remove", "nobody@acme.test", "--account", number)
    assert unknown.exit_code == 1 and "nobody@acme.test is no member" in unknown.output
    bad = cli("members", "set-role", OWNER, "--account", number, "--role", "boss")
    assert bad.exit_code == 2
    assert [m.user.email for m in members.list_members(account)] == [OWNER]


def test_an_expired_invitation_is_listed_and_resent_with_a_new_week(app, account):
    _people(account)
    owner = _browser(app, OWNER)
    _invite(owner, account, "late@acme.test")
    invitation = db.session.execute(select(AccountInvitation)).scalar_one()
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    base = f"/admin/accounts/{account.id}"
    row = owner.get(base).text.split('data-invitation="late@acme.test"')[1].split("</tr>")[0]
    assert 'data-status="expired"' in row and "Resend" in row and "Revoke" not in row
    resent = post_form(owner, base, f"{base}/invitations/{invitation.id}/resend")
    link = re.search(r'value="(http[^"]+)"', owner.get(resent.headers["Location"]).text).group(1)
    assert new_browser(app).get(link).status_code == 200
    db.session.expire_all()
    assert members.invitation_status(invitation) == "pending"


def test_a_second_invitation_of_one_address_is_refused_with_what_to_do(app, account):
    _people(account)
    owner = _browser(app, OWNER)
    assert _invite(owner, account, "new@acme.test").status_code == 303
    again = _invite(owner, account, "New@Acme.test")
    assert again.status_code == 302
    assert "new@acme.test is already invited" in owner.get(f"/admin/accounts/{account.id}").text
    assert len(db.session.execute(select(AccountInvitation)).all()) == 1
    bad = post_form(owner, "/admin/tokens", "/admin/tokens", {"expires_in_days": "999"})
    assert bad.status_code == 400 and not tokens.list_tokens(find_user(OWNER))
