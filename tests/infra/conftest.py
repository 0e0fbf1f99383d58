"""Fixtures of the infrastructure tests: real throwaway servers on loopback.

``moto_server`` (session-wide) is moto's standalone server emulating Route53, ACM and S3;
point the AWS provider's ``endpoints {}`` (or ``AWS_ENDPOINT_URL``) and boto3 at the URL
it yields. ``redis_url`` is a real redis-server per test module.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import redis

from app.cli.worker import AppWorker
from app.extensions import db
from app.models import InfraRun, LlmClient, RunStatus
from app.queue import job_queue, worker_connection
from devtools import services as devservices
from devtools.dev_dns import DelegationFile, dev_dns_server
from devtools.services import AWS_TEST_ENV
from tests.conftest import CUSTOMER_DOMAIN


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port for the whole session; yields its URL."""
    with devservices.moto_server() as url:
        yield url


# --- the infrastructure lifecycle: app, workers, and what tests check --------------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def aws_env():
    old = {k: os.environ.get(k) for k in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def route53(moto_server):
    return boto3.client("route53", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture(scope="module")
def zone_id(route53) -> str:
    zone = route53.create_hosted_zone(Name=CUSTOMER_DOMAIN, CallerReference=f"tests-{uuid.uuid4()}")
    return zone["HostedZone"]["Id"].rsplit("/", 1)[-1]


@pytest.fixture
def infra_settings(moto_server, redis_url, zone_id, tmp_path) -> dict[str, object]:
    redis.Redis.from_url(redis_url).flushdb()
    return {
        "REDIS_URL": redis_url,
        "AWS_ENDPOINT_URL": moto_server,
        "ROUTE53_ZONE_ID": zone_id,
        "WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JOB_MAX_RETRIES": 1,
        "JOB_BACKOFF_SECONDS": "1",
        "LOCK_TTL_SECONDS": 15,  # a heartbeat every 5 s: survives a loaded 2-core machine
    }


def fresh(client_id: int) -> LlmClient:
    """The client as the database has it now (workers change it; burst workers also end
    the test's session)."""
    db.session.expire_all()
    return db.session.get(LlmClient, client_id)


@pytest.fixture
def infra_app(app, make_app, infra_settings):
    """The test app, with infrastructure settings, inside its app context."""
    application = make_app(**infra_settings)
    with application.app_context():
        yield application
        db.session.remove()


@pytest.fixture
def worker_process(infra_app, infra_settings, migrated):
    """A real `flask worker` process on the same database, Redis and moto (``cwd``: its
    own working directory, as on another machine)."""
    procs: list[subprocess.Popen] = []

    def start(overrides: dict[str, object] | None = None, cwd: Path = ROOT) -> subprocess.Popen:
        env = {
            **os.environ,
            **{k: str(v) for k, v in {**infra_settings, **(overrides or {})}.items()},
            "DATABASE_URL": migrated,
            "CUSTOMER_API_DOMAIN": CUSTOMER_DOMAIN,
            "FLASK_APP": str(ROOT / "wsgi.py"),
            "LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker"], cwd=cwd, env=env, start_new_session=True
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        # The whole group: RQ's scheduler is a child process that outlives a killed worker.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def run_burst_worker(app) -> None:
    connection = worker_connection()  # RQ widens its read timeout: not the shared client
    AppWorker([job_queue(connection=connection)], connection=connection).work(burst=True)


def wait_until(run_id: int, statuses: set[RunStatus], timeout: float = 240) -> InfraRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        run = db.session.get(InfraRun, run_id)
        # An approved run (auto-approve) passes through awaiting_approval on its way to
        # the apply: only a run that waits for someone has settled there.
        approved_in_passing = run.status == RunStatus.AWAITING_APPROVAL and run.approved_at
        if run.status in statuses and not approved_in_passing:
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still {run.status} after {timeout}s:\n{run.log}")


def a_records(route53, zone_id: str, name: str) -> list[dict]:
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [r for r in records if r["Name"].rstrip(".") == name and r["Type"] == "A"]


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in [*accepted, server]:
            conn.close()


@dataclass
class DevDns:
    """A real DNS server on loopback answering NS queries from a delegations file."""

    port: int
    delegations: DelegationFile

    def delegate(self, domain: str, name_servers: list[str]) -> None:
        self.delegations.set(domain, name_servers)

    def undelegate(self, domain: str) -> None:
        self.delegations.set(domain, [])


@pytest.fixture
def dev_dns(tmp_path) -> Iterator[DevDns]:
    path = tmp_path / "delegations.json"
    with dev_dns_server(path) as port:
        yield DevDns(port, DelegationFile(path))


def domain_settings(dns: DevDns, **overrides: object) -> dict[str, object]:
    """Settings pointing the delegation checks at ``dns`` (short timeouts for tests)."""
    return {
        "DNS_RESOLVER_ADDRESS": "127.0.0.1",
        "DNS_RESOLVER_PORT": dns.port,
        "DNS_TIMEOUT_SECONDS": 1.0,
        **overrides,
    }
