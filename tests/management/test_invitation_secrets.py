"""Accepting one invitation from four browsers at once, and what the logs keep (issue 21,
item 15): exactly one accept wins and the others get a clear 409; no log line carries a
password hash, a failed statement's bound parameters or an invitation's token (the
accept link holds it in its path), neither ours nor gunicorn's access log."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.logging_setup import get_logger
from app.models import AccountMember, AdminUser
from app.services import members
from tests.admin.conftest import csrf_token
from tests.management.conftest import PASSWORD, Tenant

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = 4
BARRIER_WAIT = 5.0  # seconds a request waits for the others to reach the same point


@contextlib.contextmanager
def logged_lines() -> Iterator[list[str]]:
    """Every line the app logs meanwhile, rendered by the app's own formatter (the one
    its stderr handler writes with), at the app's level."""
    root = logging.getLogger()
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


def _invite(api, t: Tenant, email: str) -> str:
    response = api(t.owner_token)(
        "POST", f"/accounts/{t.account.id}/members", json={"email": email, "role": "member"}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["accept_url"]


def test_four_concurrent_accepts_one_wins_the_others_get_409(app, api, tenant_a, monkeypatch):
    link = _invite(api, tenant_a, "racer@alpha.test")
    browsers = []
    for _ in range(BROWSERS):
        g.pop("csrf_token", None)
        http = app.test_client()
        browsers.append((http, csrf_token(http.get(link).get_data(as_text=True))))
    barrier = threading.Barrier(BROWSERS)
    pending = members.pending_invitation

    def pending_then_wait(token: str):
        """All four have found the invitation pending before any goes on."""
        invitation = pending(token)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=BARRIER_WAIT)
        return invitation

    monkeypatch.setattr(members, "pending_invitation", pending_then_wait)
    answers: list[tuple[int, str]] = [(0, "")] * BROWSERS

    def accept(i: int) -> None:
        http, token = browsers[i]
        response = http.post(
            link, data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token}
        )
        answers[i] = (response.status_code, response.get_data(as_text=True))

    with logged_lines() as lines:
        threads = [threading.Thread(target=accept, args=(i,)) for i in range(BROWSERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [302] + [409] * (BROWSERS - 1), statuses
    for status, page in answers:
        if status == 409:
            assert "this invitation was just used" in page
    db.session.expire_all()
    user = db.session.execute(
        select(AdminUser).where(AdminUser.email == "racer@alpha.test")
    ).scalar_one()
    memberships = db.session.execute(
        select(func.count(AccountMember.id)).where(AccountMember.user_id == user.id)
    ).scalar_one()
    assert memberships == 1
    logged = "\n".join(lines)
    assert user.password_hash not in logged
    assert "unhandled_error" not in logged and "Traceback" not in logged, logged[-3000:]


def test_a_failed_statement_never_logs_its_bound_parameters(app, tenant_a):
    secret_hash = "scrypt:32768:8:1$NeverLogThis$" + "f" * 64
    with logged_lines() as lines, pytest.raises(IntegrityError) as failed:
        db.session.execute(
            insert(AdminUser).values(
                email=tenant_a.owner.email,  # taken: the unique constraint refuses it
                password_hash=secret_hash,
                is_platform_admin=False,
                is_active=True,
                session_version=0,
            )
        )
    db.session.rollback()
    assert secret_hash not in str(failed.value)
    with logged_lines() as lines:
        try:
            raise failed.value
        except IntegrityError:
            get_logger("chatdock.errors").exception("unhandled_error")
    assert lines and "IntegrityError" in lines[0]
    assert secret_hash not in lines[0] and "NeverLogThis" not in lines[0]


def test_our_access_log_shows_invitation_tokens_redacted(make_app, app, api, tenant_a):
    link = _invite(api, tenant_a, "logged@alpha.test")
    token = link.rsplit("/", 1)[1]
    verbose = make_app(LOG_LEVEL="INFO")  # the access log is at INFO
    with verbose.app_context(), logged_lines() as lines:
        http = verbose.test_client()
        assert http.get(link).status_code == 200
        http.get(f"/admin/login?next=%2Fadmin%2Finvitations%2F{token}")
    access = [line for line in lines if '"request"' in line]
    assert len(access) == 2, lines
    assert all(token not in line for line in lines)
    assert "/admin/invitations/[redacted]" in access[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorns_access_log_shows_invitation_tokens_redacted(migrated, tmp_path):
    """The production server's own access log (``--access-logfile -``: off by default,
    an operator may turn it on with ``GUNICORN_ACCESS_LOG``) over the real app."""
    token = "Sup3rSecretInvitationToken_abcdefghijklmnopqrstu"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": migrated,
        "SECRET_KEY": "test-secret-key",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--access-logfile", "-", "wsgi:app"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "gunicorn did not start"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        for path in (
            f"/admin/invitations/{token}",
            f"/admin/login?next=/admin/invitations/{token}",
        ):
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(
                    urllib.request.Request(
                        f"http://127.0.0.1:{port}{path}",
                        headers={"Referer": f"http://localhost/admin/invitations/{token}"},
                    ),
                    timeout=30,
                )
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    requests = [line for line in output.splitlines() if "/admin/invitations/" in line]
    assert len(requests) >= 2, output
    assert token not in output, output
    assert all("/admin/invitations/[redacted]" in line for line in requests), output
