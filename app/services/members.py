"""Account members: invitations (emailed link, single use, expiring, token hashed,
revocable), acceptance, role changes and removal. Owners manage their account's members
and invitations; platform admins manage every account's. Nobody raises their own role,
and an account keeps at least one owner once it has one.

An invitation carries its inviter's authority: removing a member, or demoting an owner,
revokes the invitations they sent that are still pending, so a removed owner cannot come
back through a link they minted before. ``actor`` None is the operator's CLI.
"""

from __future__ import annotations

import hashlib
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.logging_setup import get_logger
from app.models import Account, AccountInvitation, AccountMember, AdminUser, MemberRole
from app.models.common import utcnow
from app.services import audit, notifications
from app.services.access import require_owner
from app.services.users import check_password_rules, find_user, normalize_email, set_user

INVITATION_DAYS = 7
OPERATOR = "the platform's operators"  # who invited, when the CLI did
log = get_logger("chatdock.members")


@dataclass(frozen=True)
class IssuedInvitation:
    """A fresh invitation: ``token`` (in ``link``) exists only here and in the email."""

    invitation: AccountInvitation
    token: str
    link: str


def parse_role(value: str) -> MemberRole:
    try:
        return MemberRole(value)
    except ValueError:
        raise InvalidInput(f"invalid role {value!r}: owner or member") from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def members_query(account: Account) -> Select[AccountMember]:
    return (
        select(AccountMember)
        .where(AccountMember.account_id == account.id)
        .order_by(AccountMember.id)
    )


Owned = TypeVar("Owned", AccountMember, AccountInvitation)


def _of_account(model: type[Owned], account: Account, object_id: int, what: str) -> Owned:
    """The account's object with this id; another account's is answered as missing."""
    found = db.session.get(model, object_id)
    if found is None or found.account_id != account.id:
        raise NotFound(f"account {account.account_number} has no {what} {object_id}")
    return found


def list_members(account: Account) -> list[AccountMember]:
    return list(db.session.execute(members_query(account)).scalars())


def get_member(account: Account, member_id: int) -> AccountMember:
    return _of_account(AccountMember, account, member_id, "member")


def member_by_email(account: Account, email: str) -> AccountMember:
    """The account's member with this email (the CLI names members by email)."""
    email = normalize_email(email)
    found = db.session.execute(
        members_query(account).join(AdminUser).where(AdminUser.email == email)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"{email} is no member of account {account.account_number}")
    return found


def add_member(account: Account, user: AdminUser, role: MemberRole) -> AccountMember:
    """Make ``user`` a member (operators' direct path; customers use invitations)."""
    member = AccountMember(account=account, user=user, role=role)
    db.session.add(member)
    try:
        db.session.flush()
        _record_member("add", member, {"email": (None, user.email), "role": (None, role)})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"{user.email} is already a member of this account") from None
    return member


def invite(
    actor: AdminUser | None, account: Account, email: str, role: MemberRole, accept_url: str
) -> IssuedInvitation:
    """Invite ``email``: the link (``accept_url`` + token) is emailed to that address when
    email is configured, and handed back once to the inviter; only its hash is stored.
    The account's notices record the invitation, never the link. ``actor`` None: the
    operator's CLI."""
    require_owner(actor, account.id, "manage its members")
    email = normalize_email(email)
    already = db.session.execute(
        select(AccountMember.id)
        .join(AdminUser, AdminUser.id == AccountMember.user_id)
        .where(AccountMember.account_id == account.id, AdminUser.email == email)
    ).first()
    if already is not None:
        raise Conflict(f"{email} is already a member of this account")
    pending = db.session.execute(
        select(AccountInvitation.id).where(
            AccountInvitation.account_id == account.id,
            AccountInvitation.email == email,
            AccountInvitation.accepted_at.is_(None),
            AccountInvitation.revoked_at.is_(None),
            AccountInvitation.expires_at > utcnow(),
        )
    ).scalar()
    if pending is not None:
        raise Conflict(
            f"{email} is already invited (invitation {pending}): resend it for a new link, "
            "or revoke it"
        )
    inviter = actor.email if actor is not None else OPERATOR
    token = secrets.token_urlsafe(32)
    invitation = AccountInvitation(
        account=account,
        email=email,
        role=role,
        token_hash=_digest(token),
        invited_by=inviter,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()  # its id, for the trail
    audit.record(
        "invite",
        "invitation",
        invitation.id,
        account_id=account.id,
        changes={"email": (None, email), "role": (None, role)},
    )
    subject = f"{email} is invited to account {account.name} as {role.value}"
    notice = notifications.notify(
        account,
        "member_invited",
        subject,
        f"{inviter} invited {email} to join account {account.account_number} as "
        f"{role.value}; the invitation is valid for {INVITATION_DAYS} days.",
        data={"email": email, "role": role.value},
    )
    db.session.commit()
    notifications.deliver([notice])
    return _send(invitation, inviter, token, accept_url)


def resend_invitation(
    actor: AdminUser | None, invitation: AccountInvitation, accept_url: str
) -> IssuedInvitation:
    """A new link for a pending (or expired) invitation, valid INVITATION_DAYS again and
    emailed again; the previous link stops working (only one token hash is kept)."""
    require_owner(actor, invitation.account_id, "manage its members")
    status = invitation_status(invitation)
    if status in ("accepted", "revoked"):
        raise Conflict(f"invitation {invitation.id} was {status}: invite {invitation.email} anew")
    token = secrets.token_urlsafe(32)
    before = invitation.expires_at
    invitation.token_hash = _digest(token)
    invitation.expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
    audit.record(
        "resend",
        "invitation",
        invitation.id,
        account_id=invitation.account_id,
        changes={"expires_at": (before, invitation.expires_at)},
    )
    db.session.commit()
    return _send(invitation, actor.email if actor is not None else OPERATOR, token, accept_url)


def _send(
    invitation: AccountInvitation, inviter: str, token: str, accept_url: str
) -> IssuedInvitation:
    """Email the link when email is configured (a failure only logs: the inviter has the
    link), and hand it back."""
    link = f"{accept_url}{token}"
    account, role = invitation.account, invitation.role
    if notifications.email_configured():
        try:
            notifications.send_email(
                invitation.email,
                f"You are invited to {account.name} on chatdock",
                f"{inviter} invites you to account {account.name} as {role.value}.\n"
                f"Open this link within {INVITATION_DAYS} days (it works once):\n{link}\n",
            )
        except (OSError, smtplib.SMTPException) as error:
            log.warning("invitation_email_failed", error=type(error).__name__)
    return IssuedInvitation(invitation=invitation, token=token, link=link)


def pending_invitation(token: str) -> AccountInvitation:
    """The unused, unrevoked, unexpired invitation of this token, or 404 saying why."""
    invitation = db.session.execute(
        select(AccountInvitation).where(AccountInvitation.token_hash == _digest(token or ""))
    ).scalar_one_or_none()
    if invitation is None or invitation.accepted_at is not None:
        raise NotFound("this invitation is unknown or already used")
    if invitation.revoked_at is not None:
        raise NotFound("this invitation was revoked: ask an owner of the account for a new one")
    if invitation.expires_at <= utcnow():
        raise NotFound("this invitation has expired: ask for a new one")
    return invitation


def invitation_status(invitation: AccountInvitation) -> str:
    """pending, accepted, revoked or expired."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    return "expired" if invitation.expires_at <= utcnow() else "pending"


def invitations_query(actor: AdminUser | None, account: Account) -> Select[AccountInvitation]:
    """The account's invitations, newest first (owners: they are its way in)."""
    require_owner(actor, account.id, "manage its members")
    return (
        select(AccountInvitation)
        .where(AccountInvitation.account_id == account.id)
        .order_by(AccountInvitation.id.desc())
    )


def list_invitations(actor: AdminUser | None, account: Account) -> list[AccountInvitation]:
    return list(db.session.execute(invitations_query(actor, account)).scalars())


def get_invitation(account: Account, invitation_id: int) -> AccountInvitation:
    return _of_account(AccountInvitation, account, invitation_id, "invitation")


def revoke_invitation(
    actor: AdminUser | None, invitation: AccountInvitation
) -> tuple[AccountInvitation, bool]:
    """Revoke a pending invitation: its link stops working at once. The flag says whether
    this call revoked it (False: it already was, or it had expired)."""
    require_owner(actor, invitation.account_id, "manage its members")
    if invitation.accepted_at is not None:
        raise Conflict(f"invitation {invitation.id} was accepted: remove the member instead")
    if invitation_status(invitation) != "pending":
        return invitation, False
    _revoke([invitation])
    db.session.commit()
    return invitation, True


def _revoke(invitations: list[AccountInvitation]) -> None:
    """Mark them revoked, audited, in the caller's transaction."""
    now = utcnow()
    for invitation in invitations:
        invitation.revoked_at = now
        audit.record(
            "revoke",
            "invitation",
            invitation.id,
            account_id=invitation.account_id,
            changes={"revoked_at": (None, now)},
        )


def _revoke_sent_by(member: AccountMember) -> None:
    """Revoke the pending invitations ``member`` sent to their account (they lose the
    authority the invitations were sent with)."""
    _revoke(
        list(
            db.session.execute(
                select(AccountInvitation).where(
                    AccountInvitation.account_id == member.account_id,
                    AccountInvitation.invited_by == member.user.email,
                    AccountInvitation.accepted_at.is_(None),
                    AccountInvitation.revoked_at.is_(None),
                )
            ).scalars()
        )
    )


def accept(token: str, password: str | None, signed_in: AdminUser | None) -> AccountMember:
    """Join the invitation's account; the link is spent.

    A new user sets their password here. An existing user must be signed in as the
    invited address, and their password is never touched: a link cannot take over an
    account that already exists."""
    invitation = pending_invitation(token)
    user = find_user(invitation.email)
    if user is None:
        check_password_rules(password or "")
    elif signed_in is None or signed_in.id != user.id:
        raise Forbidden(f"{invitation.email} already has a user: sign in as it, then open the link")
    _claim(invitation)
    try:
        if user is None:
            user, _ = set_user(
                invitation.email, password or "", platform_admin=False, commit=False, record=False
            )
        member = AccountMember(account_id=invitation.account_id, user=user, role=invitation.role)
        db.session.add(member)
        db.session.flush()
        audit.record(
            "accept",
            "invitation",
            invitation.id,
            account_id=invitation.account_id,
            changes={"member": (None, member.id), "role": (None, invitation.role)},
            as_member=invitation.email,
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"{invitation.email} is already a member of this account") from None
    return member


def _claim(invitation: AccountInvitation) -> None:
    """Spend the link first, in this transaction: of concurrent accepts one claims it, and
    the others (waiting on the row's lock, or SQLite's write lock) find it used."""
    now = utcnow()
    claimed = db.session.execute(
        update(AccountInvitation)
        .where(
            AccountInvitation.id == invitation.id,
            AccountInvitation.accepted_at.is_(None),
            AccountInvitation.revoked_at.is_(None),
        )
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
        db.session.rollback()
        raise Conflict("this invitation was just used: sign in, or ask for a new one")
    set_committed_value(invitation, "accepted_at", now)


def _owners(account_id: int) -> int:
    return db.session.execute(
        select(func.count(AccountMember.id)).where(
            AccountMember.account_id == account_id, AccountMember.role == MemberRole.OWNER
        )
    ).scalar_one()


def _lock_members(member: AccountMember) -> AccountMember:
    """Serialise the changes of an account's members until this transaction ends, then
    re-read ``member``: two owners demoting (or removing) each other at once must not both
    see two owners. PostgreSQL locks the account's row (SELECT ... FOR UPDATE, which
    SQLAlchemy leaves out on SQLite); SQLite has no row locks, so a no-op write to the
    row takes its database write lock, which the other writer waits for."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            update(Account)
            .where(Account.id == member.account_id)
            .values(name=Account.name)
            .execution_options(synchronize_session=False)
        )
    else:
        db.session.execute(
            select(Account.id).where(Account.id == member.account_id).with_for_update()
        )
    fresh = db.session.execute(
        select(AccountMember)
        .where(AccountMember.id == member.id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if fresh is None:
        raise NotFound("not found")
    return fresh


def _record_member(action: str, member: AccountMember, changes: dict) -> None:
    audit.record(action, "member", member.id, account_id=member.account_id, changes=changes)


def change_role(actor: AdminUser | None, member: AccountMember, role: MemberRole) -> AccountMember:
    """``actor`` None: the operator's CLI (as a platform admin)."""
    member = _lock_members(member)
    require_owner(actor, member.account_id, "manage its members")  # they may have lost it
    if actor is not None and member.user_id == actor.id and not actor.is_platform_admin:
        raise Forbidden("you cannot change your own role")
    if (
        member.role == MemberRole.OWNER
        and role != MemberRole.OWNER
        and _owners(member.account_id) == 1
    ):
        raise Conflict("the account's last owner stays an owner")
    if member.role == role:
        return member  # nothing changes, nothing is recorded
    if member.role == MemberRole.OWNER:
        _revoke_sent_by(member)
    _record_member("change_role", member, {"role": (member.role, role)})
    member.role = role
    db.session.commit()
    return member


def remove_member(actor: AdminUser | None, member: AccountMember) -> None:
    """``actor`` None: the operator's CLI (as a platform admin)."""
    member = _lock_members(member)
    require_owner(actor, member.account_id, "manage its members")
    if member.role == MemberRole.OWNER and _owners(member.account_id) == 1:
        raise Conflict("the account's last owner cannot be removed")
    _revoke_sent_by(member)
    _record_member("remove", member, {"email": (member.user.email, None)})
    db.session.delete(member)
    db.session.commit()
