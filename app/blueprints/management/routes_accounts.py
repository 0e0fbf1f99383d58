"""The management API's accounts, members and invitations."""

from __future__ import annotations

from flask import Response, url_for
from flask.typing import ResponseReturnValue

from app.blueprints.management.common import (
    answer,
    caller,
    operation,
    page_of,
    parse_body,
)
from app.blueprints.management.views import (
    account_out,
    invitation_out,
    member_out,
)
from app.models import (
    MemberRole,
)
from app.schemas import management as s
from app.services import (
    access,
    members,
)
from app.services.accounts import accounts_query, create_account

# --- accounts and members -------------------------------------------------------------


@operation(
    "GET", "/accounts", summary="The accounts the caller reaches", response=s.AccountOut, paged=True
)
def accounts_list() -> ResponseReturnValue:
    return page_of(accounts_query(access.visible_account_ids_query(caller())), account_out)


@operation(
    "POST",
    "/accounts",
    summary="Create an account (platform admins)",
    response=s.AccountOut,
    status=201,
    body=s.AccountIn,
    creates=True,
    admin_only=True,
)
def accounts_create() -> ResponseReturnValue:
    access.require_platform_admin(caller(), "create accounts")
    spec = parse_body(s.AccountIn)
    return answer(account_out(create_account(spec.name, spec.contact_email)), 201)


@operation("GET", "/accounts/<int:account_id>", summary="One account", response=s.AccountOut)
def account_show(account_id: int) -> ResponseReturnValue:
    return answer(account_out(access.account_for(caller(), account_id)))


@operation(
    "GET",
    "/accounts/<int:account_id>/members",
    summary="The account's members",
    response=s.MemberOut,
    paged=True,
)
def members_list(account_id: int) -> ResponseReturnValue:
    return page_of(members.members_query(access.account_for(caller(), account_id)), member_out)


@operation(
    "POST",
    "/accounts/<int:account_id>/members",
    summary="Invite someone by email (owners): a single-use link, emailed and answered once",
    response=s.InvitationOut,
    status=201,
    body=s.InvitationIn,
    creates=True,
)
def members_invite(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    spec = parse_body(s.InvitationIn)
    issued = members.invite(caller(), account, spec.email, MemberRole(spec.role), _accept_url())
    return answer(_issued_out(issued), 201)


def _accept_url() -> str:
    return url_for("admin.accept_invitation", token="-", _external=True)[:-1]


def _issued_out(issued: members.IssuedInvitation) -> s.InvitationOut:
    invitation = issued.invitation
    return s.InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role.value,
        expires_at=invitation.expires_at,
        accept_url=issued.link,
    )


@operation(
    "PATCH",
    "/accounts/<int:account_id>/members/<int:member_id>",
    summary="Change a member's role (owners; never one's own)",
    response=s.MemberOut,
    body=s.RoleIn,
)
def member_update(account_id: int, member_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    member = members.get_member(account, member_id)
    spec = parse_body(s.RoleIn)
    return answer(member_out(members.change_role(caller(), member, MemberRole(spec.role))))


@operation(
    "DELETE",
    "/accounts/<int:account_id>/members/<int:member_id>",
    summary="Remove a member (owners)",
    response=None,
    status=204,
)
def member_remove(account_id: int, member_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    members.remove_member(caller(), members.get_member(account, member_id))
    return Response(status=204)


@operation(
    "GET",
    "/accounts/<int:account_id>/invitations",
    summary="The account's invitations, newest first, with their status (owners)",
    response=s.InvitationInfo,
    paged=True,
)
def invitations_list(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    return page_of(members.invitations_query(caller(), account), invitation_out)


@operation(
    "DELETE",
    "/accounts/<int:account_id>/invitations/<int:invitation_id>",
    summary="Revoke a pending invitation (owners): its link stops working at once",
    response=s.InvitationInfo,
)
def invitation_revoke(account_id: int, invitation_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    invitation = members.get_invitation(account, invitation_id)
    return answer(invitation_out(members.revoke_invitation(caller(), invitation)[0]))


@operation(
    "POST",
    "/accounts/<int:account_id>/invitations/<int:invitation_id>/resend",
    summary="A new link for a pending or expired invitation (owners), emailed and answered "
    "once; the previous link stops working",
    response=s.InvitationOut,
)
def invitation_resend(account_id: int, invitation_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    invitation = members.get_invitation(account, invitation_id)
    return answer(_issued_out(members.resend_invitation(caller(), invitation, _accept_url())))
