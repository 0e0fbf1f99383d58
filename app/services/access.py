"""Who may see and change what: the one place every surface (console, management API)
asks whether a user may reach an account's objects.

A platform admin reaches everything. Any other user reaches only the accounts they
are a member of; an object of another account is answered as missing (404), so its
existence is not revealed. Owners also manage the account's members.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, select

from app.errors import Forbidden, NotFound
from app.extensions import db
from app.models import Account, AccountMember, AdminUser, InfraRun, MemberRole

T = TypeVar("T")


def role_in(user: AdminUser, account_id: int) -> MemberRole | None:
    """The user's role in the account, None when not a member."""
    return db.session.execute(
        select(AccountMember.role).where(
            AccountMember.user_id == user.id, AccountMember.account_id == account_id
        )
    ).scalar_one_or_none()


def visible_account_ids(user: AdminUser) -> set[int] | None:
    """The ids of the accounts the user reaches; None means every account."""
    if user.is_platform_admin:
        return None
    return set(
        db.session.execute(
            select(AccountMember.account_id).where(AccountMember.user_id == user.id)
        ).scalars()
    )


def visible_account_ids_query(user: AdminUser) -> Select[int] | None:
    """:func:`visible_account_ids` as a query, for lists filtered (and paged) in SQL."""
    if user.is_platform_admin:
        return None
    return select(AccountMember.account_id).where(AccountMember.user_id == user.id)


def may_see(user: AdminUser, account_id: int | None) -> bool:
    visible = visible_account_ids(user)
    return visible is None or account_id in visible


def require_account(
    user: AdminUser,
    account_id: int | None,
    *,
    owner: bool = False,
    what: str = "manage its members",
) -> None:
    """Refuse an account the user does not reach (404), or one they do not own (403:
    "only an owner of this account may ``what``")."""
    if user.is_platform_admin:
        return
    role = role_in(user, account_id) if account_id is not None else None
    if role is None:
        raise NotFound("not found")
    if owner and role != MemberRole.OWNER:
        raise Forbidden(f"only an owner of this account may {what}")


def require_owner(user: AdminUser | None, account_id: int, what: str) -> None:
    """Owners of the account (and platform admins) only; ``user`` None is the operator at
    the server's shell (the CLI), who may do what a platform admin may."""
    if user is not None:
        require_account(user, account_id, owner=True, what=what)


def require_platform_admin(user: AdminUser, what: str) -> None:
    """Refuse what only platform admins may do (approving plans, the catalog, accounts)."""
    if not user.is_platform_admin:
        raise Forbidden(f"only platform admins may {what}", code="admin_only")


def account_id_of(obj: object) -> int | None:
    """The account an object belongs to (a run names its account by number)."""
    if isinstance(obj, Account):
        return obj.id
    if isinstance(obj, InfraRun):
        return db.session.execute(
            select(Account.id).where(Account.account_number == obj.account_number)
        ).scalar_one_or_none()
    return obj.account_id  # type: ignore[attr-defined]


def filter_visible(user: AdminUser, objects: list[T]) -> list[T]:
    """The objects of the accounts the user reaches, in their order."""
    visible = visible_account_ids(user)
    if visible is None:
        return list(objects)
    return [o for o in objects if account_id_of(o) in visible]


def account_for(user: AdminUser, account_id: int, *, owner: bool = False) -> Account:
    """The account, if the user reaches it."""
    account = db.session.get(Account, account_id)
    if account is None or not may_see(user, account.id):
        raise NotFound(f"no account {account_id}")  # the same whether missing or not theirs
    require_account(user, account.id, owner=owner)
    return account
