"""Who may see and change what: the one place every surface (console, management API)
asks whether a user may reach an account's objects.

A platform admin reaches everything. Any other user reaches only the accounts they
are a member of; an object of another account is answered as missing (404), so its
existence is not revealed. Owners also manage the account's members.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, select

from app.errors import Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.models import Account, AccountMember, AdminUser, LlmClient, MemberRole

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
    """The account an object belongs to."""
    if isinstance(obj, Account):
        return obj.id
    return obj.account_id  # type: ignore[attr-defined]


def find_visible(user: AdminUser, model: type[T], object_id: int, what: str) -> T:
    """The object, if it exists in one of the user's accounts; one 404 message whether it
    does not exist or is another account's, so that ids of other accounts stay unknown.
    The one owned lookup of the console, the management API and the CLI."""
    found = db.session.get(model, object_id)
    if found is None or not may_see(user, account_id_of(found)):
        raise NotFound(f"no {what} {object_id}")
    return found


def clients_of_account(account_id: int, client_ids: list[int]) -> list[LlmClient]:
    """The clients ``client_ids`` if every one belongs to the account (in that order);
    otherwise a 400 that does not say which exist elsewhere."""
    found = {
        c.id: c
        for c in db.session.execute(
            select(LlmClient).where(
                LlmClient.id.in_(client_ids), LlmClient.account_id == account_id
            )
        ).scalars()
    }
    if len(found) != len(set(client_ids)):
        raise InvalidInput("client_ids: every client must belong to this account")
    return [found[cid] for cid in client_ids]


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
