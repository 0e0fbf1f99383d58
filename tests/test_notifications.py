"""Account notifications: stored once per key, delivered by webhook and email."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification
from app.services import accounts as account_service
from app.services import budget_notices
from app.services.notifications import deliver, list_notifications, notify
from tests.live import smtp_sink, webhook_receiver


def test_a_notice_is_stored_and_sent_by_webhook_and_email(make_app):
    with webhook_receiver() as (hook_url, hooks), smtp_sink() as (smtp_url, mails):
        app = make_app(NOTIFY_WEBHOOK_URL=hook_url, NOTIFY_SMTP_URL=smtp_url)
        with app.app_context():
            account = account_service.create_account("Acme", contact_email="Ops@Acme.test")
            notice = notify(account, "test.kind", "Something changed", "Details here.")
            db.session.commit()
            deliver([notice])

            assert notice.delivered_at is not None and notice.delivery_error == ""
            assert [h["subject"] for h in hooks] == ["Something changed"]
            assert hooks[0]["account"] == account.account_number
            assert hooks[0]["kind"] == "test.kind"
            assert len(mails) == 1
            assert mails[0]["To"] == "ops@acme.test"
            assert "Something changed" in mails[0]["Subject"]
            assert "Details here." in mails[0].get_payload()


def test_the_same_key_is_never_stored_twice(app, account):
    first = notify(account, "k", "once", dedupe_key="model:gpt-5")
    db.session.commit()
    again = notify(account, "k", "once more", dedupe_key="model:gpt-5")
    db.session.commit()
    assert first is not None and again is None
    assert [n.subject for n in list_notifications(account)] == ["once"]


def test_a_failed_webhook_is_recorded_without_its_url(make_app):
    with webhook_receiver(status=500) as (hook_url, hooks):
        app = make_app(NOTIFY_WEBHOOK_URL=hook_url + "?token=s3cret")
        with app.app_context():
            account = account_service.create_account("Acme")
            notice = notify(account, "k", "subject")
            db.session.commit()
            deliver([notice])
            assert len(hooks) == 1
            assert notice.delivered_at is None
            assert notice.delivery_error == "webhook: HTTP 500"
            assert "s3cret" not in notice.delivery_error


def test_cli_lists_an_accounts_notifications(app, account):
    notify(account, "domain.failed", "Delegation lost", "example.com no longer points here.")
    db.session.commit()
    cli = app.test_cli_runner()
    result = cli.invoke(args=["accounts", "notifications", account.account_number])
    assert result.exit_code == 0, result.output
    assert "Delegation lost" in result.output
    assert "example.com no longer points here." in result.output


def test_a_bad_contact_email_is_refused(app):
    result = app.test_cli_runner().invoke(
        args=["accounts", "create", "--name", "Acme", "--email", "not-an-email"]
    )
    assert result.exit_code == 2
    assert "invalid contact email" in result.output


def test_without_webhook_or_email_a_notice_is_stored_only(app, account):
    notice = notify(account, "k", "subject")
    db.session.commit()
    deliver([notice])
    assert notice.delivered_at is None and notice.delivery_error == ""
    cli = app.test_cli_runner()
    result = cli.invoke(args=["accounts", "notifications", account.account_number])
    assert "[stored]" in result.output


def test_two_requests_noticing_the_same_thing_store_one_notice_without_failing(make_app, migrated):
    """The 80% budget notice's dedupe key is claimed by the insert itself: two workers
    sending it at once both succeed and one notice is stored (a check-then-insert
    failed the second on the unique constraint)."""
    app = make_app()
    with app.app_context():
        account = account_service.create_account("Racing Ltd")
        account_id = account.id
        db.session.remove()
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def send() -> None:
        with app.app_context():
            start.wait()
            try:
                outcomes.append(budget_notices.send_budget_warning(account_id, 100, 85))
            except Exception as error:  # what the test is about: no exception
                outcomes.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [False, True]
    with app.app_context():
        count = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == "budget_warning")
        )
    assert count == 1
