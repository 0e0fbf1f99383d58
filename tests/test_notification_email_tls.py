"""Notification email over TLS: STARTTLS on smtp://, TLS from the start on smtps://,
and never a password in clear (against a real aiosmtpd server with a throwaway CA)."""

from __future__ import annotations

from app.extensions import db
from app.services import accounts as account_service
from app.services.notifications import deliver, notify
from tests.live import SmtpServer, tls_smtp_server


def _send(make_app, smtp_url: str, server: SmtpServer, **settings):
    app = make_app(NOTIFY_SMTP_URL=smtp_url, NOTIFY_SMTP_CA_FILE=server.ca_file, **settings)
    with app.app_context():
        account = account_service.create_account("Acme", contact_email="ops@acme.test")
        notice = notify(account, "test.kind", "Something changed", "Details here.")
        db.session.commit()
        deliver([notice])
        return notice.delivered_at, notice.delivery_error


def test_smtp_logs_in_only_after_starttls(make_app, tmp_path):
    with tls_smtp_server(tmp_path) as server:
        url = f"smtp://mailer:s3cret-pass@{server.host}:{server.port}"
        delivered_at, error = _send(make_app, url, server)
    assert error == "" and delivered_at is not None
    assert server.logins == [("mailer", True)]  # the login travelled inside TLS
    assert [m["Subject"] for m in server.messages] == ["[chatdock] Something changed"]


def test_smtps_is_tls_from_the_start(make_app, tmp_path):
    with tls_smtp_server(tmp_path, implicit_tls=True) as server:
        url = f"smtps://mailer:s3cret-pass@{server.host}:{server.port}"
        delivered_at, error = _send(make_app, url, server)
    assert error == "" and delivered_at is not None
    assert server.logins == [("mailer", True)]
    assert len(server.messages) == 1


def test_a_server_without_starttls_never_gets_the_password(make_app, tmp_path):
    with tls_smtp_server(tmp_path, starttls=False) as server:
        url = f"smtp://mailer:s3cret-pass@{server.host}:{server.port}"
        delivered_at, error = _send(make_app, url, server)
    assert delivered_at is None
    assert "offers no STARTTLS: refusing to send the SMTP password in clear" in error
    assert "s3cret-pass" not in error
    assert server.logins == [] and server.messages == []


def test_an_untrusted_certificate_is_refused(make_app, tmp_path):
    with tls_smtp_server(tmp_path) as server:
        url = f"smtp://mailer:s3cret-pass@{server.host}:{server.port}"
        app = make_app(NOTIFY_SMTP_URL=url)  # the system's CAs do not know the test CA
        with app.app_context():
            account = account_service.create_account("Acme", contact_email="ops@acme.test")
            notice = notify(account, "test.kind", "Something changed")
            db.session.commit()
            deliver([notice])
            assert notice.delivered_at is None
            assert "CERTIFICATE_VERIFY_FAILED" in notice.delivery_error
    assert server.logins == [] and server.messages == []
