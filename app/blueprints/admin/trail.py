"""The audit trail page: platform admins see every account's events, members their own
accounts' only; filtered by account number, object (TYPE or TYPE:ID) and day."""

from __future__ import annotations

from datetime import date

from flask import flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.blueprint import bp
from app.errors import ChatdockError
from app.models import AuditEvent
from app.services import access, accounts, audit


def _account_filter(number: str) -> tuple[int | None, bool]:
    """(account id, valid) of the filter's account number; an account the user does not
    reach is answered as unknown, and then nothing is shown (never every account)."""
    if not number:
        return None, True
    try:
        account = accounts.get_account(number)
    except ChatdockError as error:
        flash(error.message, "danger")
        return None, False
    if not access.may_see(current_user, account.id):
        flash(f"no account {number}", "danger")
        return None, False
    return account.id, True


@bp.get("/audit")
def audit_trail() -> ResponseReturnValue:
    """The trail, newest first."""
    number = (request.args.get("account") or "").strip()
    object_ref = (request.args.get("object") or "").strip()
    since_text = (request.args.get("since") or "").strip()
    object_type, _, object_id = object_ref.partition(":")
    account_id, valid = _account_filter(number)
    since = None
    if since_text:
        try:
            since = date.fromisoformat(since_text)
        except ValueError:
            flash(f"invalid date {since_text!r}: expected YYYY-MM-DD", "danger")
            valid = False
    events: list[AuditEvent] = []
    if valid:
        events = audit.events(
            account_id=account_id,
            visible_to=current_user,
            since=since,
            object_type=object_type or None,
            object_id=object_id or None,
        )
    numbers = accounts.numbers_of({e.account_id for e in events if e.account_id is not None})
    return render_template(
        "admin/audit.html",
        events=events,
        numbers=numbers,
        account_number=number,
        object_ref=object_ref,
        since=since_text,
    ), 200 if valid else 400
