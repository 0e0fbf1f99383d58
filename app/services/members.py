"""Account members: invitations (emailed link, single use, expiring, token hashed),
acceptance, role changes and removal. Owners manage their account's members; platform
admins manage every account's. Nobody raises their own role, and an account keeps at
least one owner once it has one.
"""

from __future__ import annotations

import hashlib
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.logging_setup import get_logger
from app.models import Account, AccountInvitation, AccountMember, AdminUser, MemberRole
from app.models.common import utcnow
from app.services import notifications
from app.services.access import require_account
from app.services.users import find_user, normalize_email, set_user

INVITATION_DAYS = 7
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


def list_members(account: Account) -> list[AccountMember]:
    return list(db.session.execute(members_query(account)).scalars())


def get_member(account: Account, member_id: int) -> AccountMember:
    member = db.session.get(AccountMember, member_id)
    if member is None or member.account_id != account.id:
        raise NotFound(f"account {account.account_number} has no member {member_id}")
    return member


def add_member(account: Account, user: AdminUser, role: MemberRole) -> AccountMember:
    """Make ``user`` a member (operators' direct path; customers use invitations)."""
    member = AccountMember(account=account, user=user, role=role)
    db.session.add(member)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"{user.email} is already a member of this account") from None
    return member


def invite(
    actor: AdminUser, account: Account, email: str, role: MemberRole, accept_url: str
) -> IssuedInvitation:
    """Invite ``email``: the link (``accept_url`` + token) is emailed to that address when
    email is configured, and handed back once to the inviter; only its hash is stored.
    The account's notices record the invitation, never the link."""
    require_account(actor, account.id, owner=True)
    email = normalize_email(email)
    already = db.session.execute(
        select(AccountMember.id)
        .join(AdminUser, AdminUser.id == AccountMember.user_id)
        .where(AccountMember.account_id == account.id, AdminUser.email == email)
    ).first()
    if already is not None:
        raise Conflict(f"{email} is already a member of this account")
    token = secrets.token_urlsafe(32)
    invitation = AccountInvitation(
        account=account,
        email=email,
        role=role,
        token_hash=_digest(token),
        invited_by=actor.email,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    subject = f"{email} is invited to account {account.name} as {role.value}"
    notice = notifications.notify(
        account,
        "member_invited",
        subject,
        f"{actor.email} invited {email} to join account {account.account_number} as "
        f"{role.value}; the invitation is valid for {INVITATION_DAYS} days.",
        data={"email": email, "role": role.value},
    )
    db.session.commit()
    notifications.deliver([notice])
    link = f"{accept_url}{token}"
    if notifications.email_configured():
        try:
            notifications.send_email(
                email,
                f"You are invited to {account.name} on chatdock",
                f"{actor.email} invites you to account {account.name} as {role.value}.\n"
                f"Open this link within {INVITATION_DAYS} days (it works once):\n{link}\n",
            )
        except (OSError, smtplib.SMTPException) as error:
            log.warning("invitation_email_failed", error=type(error).__name__)
    return IssuedInvitation(invitation=invitation, token=token, link=link)


def pending_invitation(token: str) -> AccountInvitation:
    """The unused, unexpired invitation of this token, or 404 (whatever the reason)."""
    invitation = db.session.execute(
        select(AccountInvitation).where(AccountInvitation.token_hash == _digest(token or ""))
    ).scalar_one_or_none()
    if invitation is None or invitation.accepted_at is not None:
        raise NotFound("this invitation is unknown or already used")
    if invitation.expires_at <= utcnow():
        raise NotFound("this invitation has expired: ask for a new one")
    return invitation


def accept(token: str, password: str | None, signed_in: AdminUser | None) -> AccountMember:
    """Join the invitation's account; the link is spent.

    A new user sets their password here. An existing user must be signed in as the
    invited address, and their password is never touched: a link cannot take over an
    account that already exists."""
    invitation = pending_invitation(token)
    user = find_user(invitation.email)
    if user is None:
        user, _ = set_user(invitation.email, password or "", platform_admin=False, commit=False)
    elif signed_in is None or signed_in.id != user.id:
        raise Forbidden(f"{invitation.email} already has a user: sign in as it, then open the link")
    invitation.accepted_at = utcnow()
    member = AccountMember(account=invitation.account, user=user, role=invitation.role)
    db.session.add(member)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"{invitation.email} is already a member of this account") from None
    return member


def _owners(account_id: int) -> int:
    return db.session.execute(
        select(func.count(AccountMember.id)).where(
            AccountMember.account_id == account_id, AccountMember.role == MemberRole.OWNER
        )
    ).scalar_one()


def change_role(actor: AdminUser, member: AccountMember, role: MemberRole) -> AccountMember:
    require_account(actor, member.account_id, owner=True)
    if member.user_id == actor.id and not actor.is_platform_admin:
        raise Forbidden("you cannot change your own role")
    if (
        member.role == MemberRole.OWNER
        and role != MemberRole.OWNER
        and _owners(member.account_id) == 1
    ):
        raise Conflict("the account's last owner stays an owner")
    member.role = role
    db.session.commit()
    return member


def remove_member(actor: AdminUser, member: AccountMember) -> None:
    require_account(actor, member.account_id, owner=True)
    if member.role == MemberRole.OWNER and _owners(member.account_id) == 1:
        raise Conflict("the account's last owner cannot be removed")
    db.session.delete(member)
    db.session.commit()
