"""Pipeline decisions that need no terraform run: skipping, auto-approval, staleness."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.infra.plan_summary import PlanSummary, summarize_plan
from app.models import Account, InfraRun, RunKind, RunStatus
from app.models.common import utcnow
from app.services import runs

KEY = "clients/1111-2222-3333/demo"


def _account_id() -> int:
    account = db.session.execute(
        db.select(Account).where(Account.account_number == "1111-2222-3333")
    ).scalar_one_or_none()
    if account is None:
        account = Account(account_number="1111-2222-3333", name="Pipeline")
        db.session.add(account)
        db.session.flush()
    return account.id


def make_run(status: RunStatus, config_hash: str = "a", **fields) -> InfraRun:
    run = InfraRun(
        account_id=_account_id(),
        workspace_key=KEY,
        kind=fields.pop("kind", RunKind.APPLY),
        status=status,
        account_number="1111-2222-3333",
        target_name="demo",
        config_hash=config_hash,
        finished_at=utcnow(),
        **fields,
    )
    db.session.add(run)
    db.session.commit()
    return run


def test_skip_only_after_a_successful_apply_of_the_same_config(app):
    make_run(RunStatus.APPLIED, "a")
    current = make_run(RunStatus.QUEUED, None)
    assert runs.last_applied_config(current).config_hash == "a"


def test_no_skip_after_a_destroy(app):
    make_run(RunStatus.APPLIED, "a")
    make_run(RunStatus.DESTROYED, "a", kind=RunKind.DESTROY)
    assert runs.last_applied_config(make_run(RunStatus.QUEUED, None)) is None


def test_no_skip_after_an_apply_that_failed_part_way(app):
    make_run(RunStatus.APPLIED, "a")
    make_run(RunStatus.ERRORED, "b", apply_started_at=utcnow())
    assert runs.last_applied_config(make_run(RunStatus.QUEUED, None)) is None


def test_a_plan_that_failed_before_applying_changes_nothing(app):
    make_run(RunStatus.APPLIED, "a")
    make_run(RunStatus.ERRORED, "b")  # never reached apply
    assert runs.last_applied_config(make_run(RunStatus.QUEUED, None)).config_hash == "a"


def creates_only() -> PlanSummary:
    return summarize_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "aws_route53_record.x",
                    "type": "aws_route53_record",
                    "name": "x",
                    "change": {"actions": ["create"], "before": None, "after": {"ttl": 300}},
                }
            ],
        }
    )


@pytest.mark.parametrize(
    ("policy", "flag", "kind", "expected"),
    [
        ("never", False, RunKind.APPLY, False),
        ("never", True, RunKind.APPLY, True),
        ("creates_only", False, RunKind.APPLY, True),
        ("creates_only", False, RunKind.DESTROY, False),
        ("always", False, RunKind.DESTROY, True),
    ],
)
def test_auto_approve_policy(make_app, policy, flag, kind, expected):
    with make_app(AUTO_APPROVE=policy).app_context():
        run = InfraRun(kind=kind, auto_approve=flag)
        assert runs.auto_approves(run, creates_only()) is expected
