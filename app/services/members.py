"""Account members: invitations (emailed link, single use, expiring, token hashed),
acceptance, role changes and removal. Owners manage their account's members; platform
admins manage every account's. Nobody raises their own role, and an account keeps at
least one owner once it has one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.models import Account, AccountInvitation, AccountMember, AdminUser, MemberRole
from app.models.common import utcnow
from app.services import notifications
from app.services.access import require_account
from app.services.users import normalize_email, set_user

INVITATION_DAYS = 7


@dataclass(frozen=True)
class IssuedInvitation:
    """A fresh invitation: ``token`` exists only here and in the email, never stored."""

    invitation: AccountInvitation
    token: str


def parse_role(value: str) -> MemberRole:
    try:
        return MemberRole(value)
    except ValueError:
        raise InvalidInput(f"invalid role {value!r}: owner or member") from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def list_members(account: Account) -> list[AccountMember]:
    return list(
        db.session.execute(
            select(AccountMember)
            .where(AccountMember.account_id == account.id)
            .order_by(AccountMember.id)
        ).scalars()
    )


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
    """Invite ``email``: a notice to the account carrying the link ``accept_url`` + token.

    The link is sent by the account's notification channels (webhook and email as
    configured) and never stored; only its hash is."""
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
    notice = notifications.notify(
        account,
        "member_invited",
        f"{email} is invited to account {account.name} as {role.value}",
        f"{actor.email} invited {email} to join account {account.account_number} as "
        f"{role.value}. The link, valid for {INVITATION_DAYS} days and once:\n"
        f"{accept_url}{token}",
        data={"email": email, "role": role.value},
    )
    db.session.commit()
    notifications.deliver([notice])
    return IssuedInvitation(invitation=invitation, token=token)


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


def accept(token: str, password: str) -> AccountMember:
    """Join the invitation's account, setting the user's password; the link is spent."""
    invitation = pending_invitation(token)
    user, _ = set_user(invitation.email, password, platform_admin=False, commit=False)
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
