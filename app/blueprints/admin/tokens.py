"""Personal access tokens (shown once, revocable) and accepting an invitation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user

from app.blueprints.admin import bp
from app.blueprints.admin.common import attempt, required
from app.blueprints.admin.forms import AcceptInvitationForm, ActionForm, TokenForm
from app.errors import ChatdockError, NotFound
from app.extensions import db
from app.services import members
from app.services import tokens as tokens_service
from app.services.users import find_user


@bp.route("/tokens", methods=["GET", "POST"])
def tokens() -> ResponseReturnValue:
    """The signed-in user's tokens; a new one is shown on this answer only."""
    form = TokenForm()
    created = None
    if form.validate_on_submit():
        created = attempt(
            lambda: tokens_service.create_token(
                current_user, form.label.data or "", required(form.expires_in_days.data)
            )
        )
    return render_template(
        "admin/tokens.html",
        form=form,
        created=created,
        rows=tokens_service.list_tokens(current_user),
        status=tokens_service.token_status,
        revoke_form=ActionForm(),
    )


@bp.post("/tokens/<token_id>/revoke")
def token_revoke(token_id: str) -> ResponseReturnValue:
    """Revoke one of the signed-in user's tokens (anyone else's is not found)."""
    if ActionForm().validate_on_submit():
        try:
            tokens_service.revoke_token(current_user, token_id)
        except NotFound:
            abort(404)
        flash(f"Revoked {token_id}.", "success")
    return redirect(url_for("admin.tokens"))


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
            flash(f"You joined {member.account.name}.", "success")
            return redirect(url_for("admin.home"))
    existing = find_user(invitation.email) is not None
    page = render_template(
        "admin/invitation.html", form=form, invitation=invitation, existing=existing
    )
    return page, status
