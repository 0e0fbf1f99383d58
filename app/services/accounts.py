"""Creating and finding accounts."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import Account, generate_account_number
from app.names import has_control_characters, is_account_number
from app.services import audit
from app.services.users import EMAIL_RE

MAX_NUMBER_ATTEMPTS = 10


def create_account(name: str, contact_email: str | None = None) -> Account:
    """Create an account with a fresh random number (retried on the rare collision)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("account name must be 1 to 200 characters")
    if has_control_characters(name):
        raise InvalidInput(
            "account name must not contain control characters (newlines, tabs, "
            "direction overrides): it is shown on one line"
        )
    contact_email = (contact_email or "").strip().lower() or None
    if contact_email and (not EMAIL_RE.fullmatch(contact_email) or len(contact_email) > 254):
        raise InvalidInput(f"invalid contact email {contact_email!r}")
    for _ in range(MAX_NUMBER_ATTEMPTS):
        account = Account(
            account_number=generate_account_number(), name=name, contact_email=contact_email
        )
        db.session.add(account)
        try:
            db.session.flush()
            audit.record(
                "create",
                "account",
                account.account_number,
                account_id=account.id,
                changes={"name": (None, name), "contact_email": (None, contact_email)},
            )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        return account
    raise RuntimeError("could not allocate a unique account number")


def get_account(account_number: str) -> Account:
    """The account with this number, or a clear error for a malformed or unknown one."""
    number = (account_number or "").strip()
    if not is_account_number(number):
        raise InvalidInput(f"invalid account number {account_number!r}: expected ####-####-####")
    account = db.session.execute(
        select(Account).where(Account.account_number == number)
    ).scalar_one_or_none()
    if account is None:
        raise NotFound(f"no account {number}")
    return account


def accounts_query(account_ids: Select[int] | None = None) -> Select[Account]:
    """The accounts (those of ``account_ids``, a query of ids) by id."""
    query = select(Account).order_by(Account.id)
    return query if account_ids is None else query.where(Account.id.in_(account_ids))


def list_accounts() -> list[Account]:
    return list(db.session.execute(accounts_query()).scalars())


def numbers_of(account_ids: set[int]) -> dict[int, str]:
    """{id: account number} of these accounts (what the console shows for an id)."""
    if not account_ids:
        return {}
    rows = db.session.execute(
        select(Account.id, Account.account_number).where(Account.id.in_(account_ids))
    ).all()
    return {account_id: number for account_id, number in rows}
