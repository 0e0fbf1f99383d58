"""Two owners changing each other at the same moment (issue 21, item 5): the account never
ends up without an owner. Two real requests in two threads, each with its own database
connection; a barrier holds each one right after it counted the owners, which is where
the unlocked check-then-write let both through. Run on PostgreSQL too
(``TEST_DATABASE=postgresql``): there the account row's lock is what serialises them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccountMember, MemberRole
from app.services import members
from tests.management.conftest import Tenant

BARRIER_WAIT = 3.0  # seconds a request waits for the other to count too (it never does
# when the other waits for the lock); well under SQLite's busy timeout


def _owners(t: Tenant) -> int:
    db.session.expire_all()
    return db.session.execute(
        select(func.count(AccountMember.id)).where(
            AccountMember.account_id == t.account.id, AccountMember.role == MemberRole.OWNER
        )
    ).scalar_one()


@pytest.fixture
def two_owners(tenant_a: Tenant) -> Tenant:
    members.change_role(tenant_a.owner, tenant_a.member_member, MemberRole.OWNER)
    assert _owners(tenant_a) == 2
    return tenant_a


@pytest.fixture
def counted_together(monkeypatch):
    """Each request, once it has counted the owners, waits for the other to count too."""
    barrier = threading.Barrier(2)
    count = members._owners

    def count_then_wait(account_id: int) -> int:
        owners = count(account_id)
        # when the other request waits for this one's lock, the barrier breaks: go on alone
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=BARRIER_WAIT)
        return owners

    monkeypatch.setattr(members, "_owners", count_then_wait)


def _at_once(app, requests: list[Callable[[], int]]) -> list[int]:
    """Run the requests in threads, each in its own app context (its own session)."""
    statuses: list[int] = [0] * len(requests)

    def run(i: int) -> None:
        with app.app_context():
            statuses[i] = requests[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return statuses


def test_two_owners_demoting_each_other_leave_one_owner(app, api, two_owners, counted_together):
    t = two_owners
    base = f"/accounts/{t.account.id}/members"
    statuses = _at_once(
        app,
        [
            lambda: (
                api(t.owner_token)(
                    "PATCH", f"{base}/{t.member_member.id}", json={"role": "member"}
                ).status_code
            ),
            lambda: (
                api(t.member_token)(
                    "PATCH", f"{base}/{t.owner_member.id}", json={"role": "member"}
                ).status_code
            ),
        ],
    )
    assert _owners(t) == 1, statuses
    assert sorted(statuses)[0] == 200 and sorted(statuses)[1] in (403, 409), statuses


def test_two_owners_removing_each_other_leave_one_owner(app, api, two_owners, counted_together):
    t = two_owners
    base = f"/accounts/{t.account.id}/members"
    statuses = _at_once(
        app,
        [
            lambda: api(t.owner_token)("DELETE", f"{base}/{t.member_member.id}").status_code,
            lambda: api(t.member_token)("DELETE", f"{base}/{t.owner_member.id}").status_code,
        ],
    )
    assert _owners(t) == 1, statuses
    assert sorted(statuses)[0] == 204 and sorted(statuses)[1] in (403, 404, 409), statuses


def test_the_service_refuses_the_second_of_two_demotions(app, two_owners, counted_together):
    """The same race through the service the console and the CLI call."""
    t = two_owners

    def demote(actor_id: int, member_id: int) -> int:
        actor = db.session.get(type(t.owner), actor_id)
        try:
            members.change_role(actor, db.session.get(AccountMember, member_id), MemberRole.MEMBER)
        except members.Conflict:
            db.session.rollback()
            return 409
        except members.Forbidden:
            db.session.rollback()
            return 403
        return 200

    statuses = _at_once(
        app,
        [
            lambda: demote(t.owner.id, t.member_member.id),
            lambda: demote(t.member.id, t.owner_member.id),
        ],
    )
    assert _owners(t) == 1, statuses
    assert sorted(statuses)[0] == 200 and sorted(statuses)[1] in (403, 409), statuses
