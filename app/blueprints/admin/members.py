"""An account's members and invitations in the console (owners and platform admins):
invite, resend, revoke, change a role, remove; and accepting an invitation.

A new or resent invitation's link is shown once, after a redirect (post/redirect/get,
as the API keys): a reload says it was shown and never makes another link."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import (
    attempt,
    get_or_404,
    keep_to_show_once,
    required,
    take_to_show_once,
)
from app.blueprints.admin.forms import AcceptInvitationForm, ActionForm, InviteForm, RoleForm
from app.errors import ChatdockError
from app.extensions import db
from app.models import Account, AccountInvitation, AccountMember, MemberRole
from app.services import access, members
from app.services.users import find_user, seen

NEW_LINK = "new_invitation_link"


def members_panel(account: Account) -> dict[str, Any]:
    """What the account page's members section shows: the members to everyone who sees
    the account; invitations and the forms to its owners and platform admins."""
    manage = current_user.is_platform_admin or (
        access.role_in(current_user, account.id) == MemberRole.OWNER
    )
    invitations = members.list_invitations(current_user, account) if manage else []
    return {
        "members": members.list_members(account),
        "manage": manage,
        "pending": [
            (i, status)
            for i in invitations
            if (status := members.invitation_status(i)) in ("pending", "expired")
        ],
        "invite_form": InviteForm(),
    }


def _accept_url() -> str:
    return url_for("admin.accept_invitation", token="-", _external=True)[:-1]


def _back(account_id: int) -> ResponseReturnValue:
    return redirect(url_for("admin.account", account_id=account_id) + "#members")


def _show_link_once(
    issued: members.IssuedInvitation | None, account_id: int
) -> ResponseReturnValue:
    if issued is None:
        return _back(account_id)
    keep_to_show_once(NEW_LINK, issued.invitation.id, issued.link)
    return redirect(url_for("admin.invitation_sent", invitation_id=issued.invitation.id), 303)


@bp.post("/accounts/<int:account_id>/invitations")
def invitation_create(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = InviteForm()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(map(str, errors))}", "danger")
        return _back(account_id)
    issued = attempt(
        lambda: members.invite(
            current_user,
            account,
            required(form.email.data),
            members.parse_role(form.role.data or ""),
            _accept_url(),
        )
    )
    return _show_link_once(issued, account_id)


@bp.get("/invitations/sent/<int:invitation_id>")
def invitation_sent(invitation_id: int) -> ResponseReturnValue:
    """The new link, once (the session's copy goes as it is shown); no-store."""
    invitation = get_or_404(AccountInvitation, invitation_id)
    link = take_to_show_once(NEW_LINK, invitation_id)
    page = render_template("admin/invitation_sent.html", invitation=invitation, link=link)
    return page, 200, {"Cache-Control": "no-store"}


def _invitation(account_id: int, invitation_id: int) -> AccountInvitation:
    account = get_or_404(Account, account_id)
    try:
        return members.get_invitation(account, invitation_id)
    except ChatdockError:
        abort(404)


@bp.post("/accounts/<int:account_id>/invitations/<int:invitation_id>/resend")
def invitation_resend(account_id: int, invitation_id: int) -> ResponseReturnValue:
    invitation = _invitation(account_id, invitation_id)
    if not ActionForm().validate_on_submit():
        return _back(account_id)
    issued = attempt(lambda: members.resend_invitation(current_user, invitation, _accept_url()))
    return _show_link_once(issued, account_id)


@bp.post("/accounts/<int:account_id>/invitations/<int:invitation_id>/revoke")
def invitation_revoke(account_id: int, invitation_id: int) -> ResponseReturnValue:
    invitation = _invitation(account_id, invitation_id)
    if ActionForm().validate_on_submit():
        outcome = attempt(lambda: members.revoke_invitation(current_user, invitation))
        if outcome is not None:
            said = "revoked: its link no longer works" if outcome[1] else "was no longer pending"
            flash(f"The invitation of {invitation.email} {said}.", "success")
    return _back(account_id)


def _member(account_id: int, member_id: int) -> AccountMember:
    account = get_or_404(Account, account_id)
    try:
        return members.get_member(account, member_id)
    except ChatdockError:
        abort(404)


@bp.post("/accounts/<int:account_id>/members/<int:member_id>/role")
def member_role(account_id: int, member_id: int) -> ResponseReturnValue:
    member = _member(account_id, member_id)
    form = RoleForm()
    if form.validate_on_submit():
        email = member.user.email
        attempt(
            lambda: members.change_role(current_user, member, members.parse_role(form.role.data)),
            f"{email} is now {form.role.data}.",
        )
    return _back(account_id)


@bp.post("/accounts/<int:account_id>/members/<int:member_id>/remove")
def member_remove(account_id: int, member_id: int) -> ResponseReturnValue:
    member = _member(account_id, member_id)
    if ActionForm().validate_on_submit():
        email = member.user.email
        attempt(
            lambda: members.remove_member(current_user, member),
            f"{email} was removed from the account.",
        )
    return _back(account_id)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    """Join an account from the emailed link: set a password, then signed in."""
    try:
        invitation = members.pending_invitation(token)
    except ChatdockError as error:
        return render_template(
            "admin/error.html", status=404, title="Not found", message=error.message
        ), 404
    form = AcceptInvitationForm()
    status = 200
    if form.validate_on_submit():
        signed_in = current_user if current_user.is_authenticated else None
        try:
            member = members.accept(token, form.password.data, signed_in)
        except ChatdockError as error:  # said on the page, with its status (409: used)
            db.session.rollback()
            flash(error.message, "danger")
            status = error.status
        else:
            login_user(member.user)
            seen(member.user)
            flash(f"You joined {member.account.name}.", "success")
            return redirect(url_for("admin.home"))
    elif form.errors:
        status = 400
    existing = find_user(invitation.email) is not None
    page = render_template(
        "admin/invitation.html", form=form, invitation=invitation, existing=existing
    )
    return page, status
