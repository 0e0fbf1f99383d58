"""The terraform runner against the real terraform CLI, the real AWS provider from the
local mirror, and moto's server; plus a fake terraform for the signal escalation.

Terraform with the AWS provider is slow to start (each plan loads the ~700 MB provider
three times), so the happy path is one test walking the whole lifecycle.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from app.config import Settings
from app.infra.plan_summary import plan_file_hash, summarize_plan
from app.infra.terraform import (
    Diagnostic,
    TerraformError,
    TerraformRunner,
    TerraformTimeout,
    classify,
    format_event,
    running_groups,
    terminate_running,
)
from devtools.services import free_port
from tests.infra.conftest import silent_endpoint

PLUGIN_DIR = Settings(_env_file=None).TF_PLUGIN_DIR
# Go collects garbage less often: terraform + AWS provider start ~35% faster (measured
# 17 s -> 11 s per plan) for ~25% more peak memory; fine for tests.
FAST_GO_GC = {"GOGC": "400"}


@pytest.fixture
def terraform_installed() -> None:
    """A missing terraform or provider mirror fails the test with the reason, as in the
    rest of the suite (scripts/test checks for both before it starts): never a skip."""
    assert shutil.which("terraform"), "terraform is not installed: see scripts/prerequisites"
    assert Path(PLUGIN_DIR).is_dir(), (
        f"the provider mirror {PLUGIN_DIR} (TF_PLUGIN_DIR) is missing: see scripts/prerequisites"
    )


needs_terraform = pytest.mark.usefixtures("terraform_installed")


# --- helpers -------------------------------------------------------------------------------


def provider_config(endpoint: str) -> str:
    """The AWS provider talking only to ``endpoint`` (moto, or a test socket)."""
    return textwrap.dedent(
        f"""
        terraform {{
          required_providers {{
            aws = {{ source = "hashicorp/aws", version = "5.100.0" }}
          }}
        }}
        provider "aws" {{
          region                      = "us-east-1"
          access_key                  = "test"
          secret_key                  = "test"
          skip_credentials_validation = true
          skip_metadata_api_check     = true
          skip_requesting_account_id  = true
          s3_use_path_style           = true
          max_retries                 = 1
          endpoints {{
            s3      = "{endpoint}"
            route53 = "{endpoint}"
            sts     = "{endpoint}"
          }}
        }}
        """
    )


def bucket_module(bucket: str, extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        resource "aws_s3_bucket" "b" {{
          bucket = "{bucket}"
          {extra}
        }}
        output "arn" {{ value = aws_s3_bucket.b.arn }}
        """
    )


ZONE_LOOKUP = 'data "aws_route53_zone" "z" { name = "example.com" }\n'


class Recorder:
    """A ``log`` callback remembering when each line came and what was running then."""

    def __init__(self) -> None:
        self.entries: list[tuple[float, str, list[int]]] = []

    def __call__(self, line: str) -> None:
        self.entries.append((time.monotonic(), line, running_groups()))

    @property
    def lines(self) -> list[str]:
        return [line for _, line, _ in self.entries]

    def text(self) -> str:
        return "\n".join(self.lines)

    def groups(self) -> set[int]:
        return {pgid for _, _, groups in self.entries for pgid in groups}


def make_runner(workdir: Path, log: Recorder, **kwargs) -> TerraformRunner:
    kwargs.setdefault("timeout", 300)
    return TerraformRunner(
        workdir, binary="terraform", plugin_dir=PLUGIN_DIR, env=FAST_GO_GC, log=log, **kwargs
    )


def live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that still run (zombies awaiting init don't count)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(entry.name))
    return alive


def assert_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + 5
    while live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_members(pgid) == []
    with contextlib.suppress(ProcessLookupError):  # zombies may linger until init reaps them
        os.killpg(pgid, 0)
    assert pgid not in running_groups()


@pytest.fixture
def s3(moto_server: str):
    return boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def bucket_exists(s3, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError:
        return False


# --- the lifecycle against moto ------------------------------------------------------------


@needs_terraform
def test_lifecycle_against_moto(tmp_path: Path, moto_server: str, s3) -> None:
    bucket = f"chatdock-test-{uuid.uuid4().hex[:10]}"
    main = tmp_path / "main.tf"
    main.write_text(provider_config(moto_server) + bucket_module(bucket))
    log = Recorder()
    runner = make_runner(tmp_path, log)
    runner.init()
    assert (tmp_path / ".terraform.lock.hcl").exists()

    # plan: a saved plan with changes, streamed while terraform runs
    log.entries.clear()
    created = runner.plan(out="create.tfplan")
    returned_at = time.monotonic()
    assert created.has_changes and created.exit_code == 2
    assert created.changes["add"] == 1 and created.planfile == tmp_path / "create.tfplan"
    first_at, first_line, groups_then = log.entries[1]  # [0] is the "$ terraform" echo
    assert first_line.startswith("[info] Terraform 1.")
    assert groups_then, "the first line arrived after terraform had exited"
    assert returned_at - first_at > 1.0
    assert "[info] aws_s3_bucket.b: Plan to create" in log.lines

    # show -json: the summary of exactly this plan
    summary = summarize_plan(runner.show_json("create.tfplan"))
    assert summary.counts["create"] == 1 and summary.only_creates
    assert [c.address for c in summary.changes] == ["aws_s3_bucket.b"]
    assert "+ create aws_s3_bucket.b" in summary.text()
    assert len(plan_file_hash(created.planfile)) == 64

    runner.apply("create.tfplan")
    assert bucket_exists(s3, bucket)
    assert runner.output_json()["arn"]["value"] == f"arn:aws:s3:::{bucket}"
    assert runner.state_list() == ["aws_s3_bucket.b"]

    # a second plan has no changes
    again = runner.plan(out="again.tfplan")
    assert not again.has_changes and again.exit_code == 0

    # terraform applies the plan's own configuration snapshot: a config edit after the
    # plan does not make it stale (the pipeline compares config hashes for that)
    main.write_text(provider_config(moto_server) + bucket_module(bucket, 'tags = { a = "b" }'))
    runner.apply("again.tfplan")
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)

    # destroy plan + apply removes the bucket
    destroy = runner.plan(out="destroy.tfplan", destroy=True)
    assert destroy.has_changes and destroy.destroy and destroy.changes["remove"] == 1
    runner.apply("destroy.tfplan")
    assert not bucket_exists(s3, bucket)
    assert runner.state_list() == []

    # the state changed since "again" was planned: terraform refuses it as stale
    with pytest.raises(TerraformError) as caught:
        runner.apply("again.tfplan")
    error = caught.value
    assert error.command == "apply" and error.exit_code == 1
    assert error.stale_plan and not error.transient
    assert "Saved plan is stale" in str(error)
    assert running_groups() == []


# --- failures ------------------------------------------------------------------------------


@needs_terraform
def test_invalid_hcl_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "b" {\n  bucket = \n')
    log = Recorder()
    with pytest.raises(TerraformError) as caught:
        make_runner(tmp_path, log).init()
    error = caught.value
    assert not error.transient and error.kind == "configuration"
    assert error.diagnostics and error.diagnostics[0].location.startswith("main.tf line")
    assert "main.tf line" in str(error)
    assert any(line.startswith("[error] Error: ") for line in log.lines)


@needs_terraform
def test_show_of_a_missing_plan_reports_terraforms_text_error(tmp_path: Path) -> None:
    log = Recorder()
    with pytest.raises(TerraformError) as caught:
        make_runner(tmp_path, log).show_json("missing.tfplan")
    assert not caught.value.transient and caught.value.exit_code == 1
    message = str(caught.value)
    assert "Error: Failed to read the given file as a state or plan file" in message
    assert "\x1b[" not in message and "\u2502" not in message  # no colours, no frame


@needs_terraform
def test_unreachable_endpoint_is_transient(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "main.tf").write_text(provider_config(closed) + ZONE_LOOKUP)
    runner = make_runner(tmp_path, Recorder())
    runner.init()
    with pytest.raises(TerraformError) as caught:
        runner.plan()
    assert caught.value.transient
    assert "connection refused" in str(caught.value)


def local_backend(path: str) -> str:
    return f'terraform {{\n  backend "local" {{\n    path = "{path}"\n  }}\n}}\n'


@needs_terraform
def test_init_refuses_a_state_that_moved_instead_of_starting_empty(tmp_path: Path) -> None:
    """A backend whose state location changed (a new bucket, key or path) is not
    re-initialised over: the new location's empty state would plan everything anew."""
    (tmp_path / "main.tf").write_text(local_backend("a.tfstate"))
    runner = make_runner(tmp_path, Recorder())
    runner.init("local:a.tfstate")
    runner.init("local:a.tfstate")  # the same location: -reconfigure, harmless
    (tmp_path / "main.tf").write_text(local_backend("b.tfstate"))
    with pytest.raises(TerraformError, match="terraform does not move state") as caught:
        runner.init("local:b.tfstate")
    assert "local:a.tfstate" in str(caught.value) and not caught.value.transient


@needs_terraform
def test_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    with silent_endpoint() as endpoint:
        (tmp_path / "main.tf").write_text(provider_config(endpoint) + ZONE_LOOKUP)
        log = Recorder()
        runner = make_runner(tmp_path, log)
        runner.init()
        log.entries.clear()
        runner.timeout, runner.grace = 3.0, 2.0
        started = time.monotonic()
        with pytest.raises(TerraformTimeout) as caught:
            runner.plan()
        assert time.monotonic() - started < 3.0 + 2.0 + 5.0 + 2.0
    assert caught.value.transient and "timed out after 3s" in str(caught.value)
    (pgid,) = log.groups()
    assert_group_gone(pgid)


class FakeJobTimeout(Exception):
    """Like RQ's JobTimeoutException: raised in the main thread by a SIGALRM handler."""


@needs_terraform
def test_interrupted_caller_leaves_no_process(tmp_path: Path) -> None:
    with silent_endpoint() as endpoint:
        (tmp_path / "main.tf").write_text(provider_config(endpoint) + ZONE_LOOKUP)
        log = Recorder()
        runner = make_runner(tmp_path, log, grace=2.0)
        runner.init()
        log.entries.clear()

        def on_alarm(signum, frame):
            raise FakeJobTimeout("job exceeded its timeout")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 3.0)
        try:
            with pytest.raises(FakeJobTimeout):
                runner.plan()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    (pgid,) = log.groups()
    assert_group_gone(pgid)


# --- a fake terraform: escalation and streaming without the slow provider ------------------

STUBBORN = """#!/bin/sh
trap '' INT TERM
echo '{"@level":"info","@message":"started","type":"log"}'
sleep 60 &
sleep 60
"""


def fake_terraform(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-terraform"
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_stubborn_process_is_killed_after_sigint_and_sigterm(tmp_path: Path) -> None:
    log = Recorder()
    runner = TerraformRunner(
        tmp_path, binary=fake_terraform(tmp_path, STUBBORN), timeout=1.0, grace=0.5, log=log
    )
    started = time.monotonic()
    with pytest.raises(TerraformTimeout) as caught:
        runner.state_list()
    assert time.monotonic() - started < 1.0 + 0.5 + 0.5 + 2.0
    assert caught.value.exit_code == -signal.SIGKILL
    (pgid,) = log.groups()
    assert_group_gone(pgid)


def test_terminate_running_stops_commands_of_other_threads(tmp_path: Path) -> None:
    log = Recorder()
    runner = TerraformRunner(tmp_path, binary=fake_terraform(tmp_path, STUBBORN), log=log)
    errors: list[BaseException] = []

    def job() -> None:
        try:
            runner.plan()
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.monotonic() + 5
    while len(log.entries) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    (pgid,) = running_groups()
    terminate_running(grace=0.3)  # the SIGINT and SIGTERM are ignored: SIGKILL
    worker.join(timeout=5)
    (error,) = errors
    assert isinstance(error, TerraformError) and error.exit_code == -signal.SIGKILL
    assert error.transient  # killed by a signal, e.g. the OOM killer: worth a retry
    assert_group_gone(pgid)


CALLER = """
import sys
from app.infra.terraform import TerraformRunner, running_groups

def log(line):
    print(running_groups(), flush=True)

TerraformRunner(sys.argv[1], binary=sys.argv[2], log=log, timeout=60).plan()
"""


def sigkill_caller_while_running(tmp_path: Path, script: str, processes: int) -> int:
    """Run ``script`` as terraform from a caller process, SIGKILL the caller once the
    command's group has ``processes`` live members; returns the group id."""
    binary = fake_terraform(tmp_path, script)
    caller = subprocess.Popen(
        [sys.executable, "-c", CALLER, str(tmp_path), binary],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert caller.stdout is not None
    assert caller.stdout.readline().strip() == "[]"  # the "$ terraform plan" echo
    (pgid,) = json.loads(caller.stdout.readline())
    assert len(live_members(pgid)) >= processes
    caller.kill()
    caller.wait()
    return pgid


def test_sigkilled_caller_leaves_no_process(tmp_path: Path) -> None:
    """RQ kills a work horse with SIGKILL (job stop, cold shutdown): no finally runs, so
    terraform's guard gets its parent-death signal and kills the group."""
    script = '#!/bin/sh\necho \'{"@level":"info","@message":"planning"}\'\nexec sleep 60\n'
    assert_group_gone(sigkill_caller_while_running(tmp_path, script, processes=1))


# Like terraform with its AWS provider: the provider is terraform's child, and it does not
# stop on the SIGINT terraform would get (a background job of sh ignores SIGINT).
WITH_PROVIDER = """#!/bin/sh
sleep 60 &
echo '{"@level":"info","@message":"provider started"}'
exec sleep 60
"""


def test_sigkilled_caller_takes_terraform_and_its_provider_with_it(tmp_path: Path) -> None:
    """A worker SIGKILLed mid-apply: terraform's provider plugin is a grandchild of the
    worker, which no parent-death signal of terraform's reaches; the guard kills the
    whole group."""
    # terraform, its "provider" (and the guard)
    assert_group_gone(sigkill_caller_while_running(tmp_path, WITH_PROVIDER, processes=2))


def test_output_lines_arrive_as_they_are_printed(tmp_path: Path) -> None:
    script = """#!/bin/sh
echo '{"@level":"info","@message":"one","type":"log"}'
sleep 1
echo 'plain text on stderr' >&2
echo '{"@level":"error","@message":"Error: boom","type":"diagnostic",'\\
'"diagnostic":{"severity":"error","summary":"boom","detail":"it broke"}}'
exit 1
"""
    log = Recorder()
    runner = TerraformRunner(tmp_path, binary=fake_terraform(tmp_path, script), log=log)
    with pytest.raises(TerraformError) as caught:
        runner.apply("plan.tfplan")
    (one_at, _, _), (stderr_at, _, _) = log.entries[1], log.entries[2]
    assert log.lines[1:] == ["[info] one", "plain text on stderr", "[error] Error: boom: it broke"]
    assert stderr_at - one_at > 0.8
    assert str(caught.value) == "terraform apply failed (exit code 1): boom: it broke"


def test_environment_is_controlled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CLI_ARGS_plan", "-var-file=evil.tfvars")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/root/.terraformrc")
    runner = TerraformRunner(tmp_path, env={"TF_CLI_CONFIG_FILE": "/etc/tf.rc", "AWS_REGION": "x"})
    env = runner.command_env()
    assert "TF_CLI_ARGS_plan" not in env
    assert env["TF_CLI_CONFIG_FILE"] == "/etc/tf.rc" and env["AWS_REGION"] == "x"
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0"
    assert env["CHECKPOINT_DISABLE"] == "1"
    assert env["GOGC"] == "400"  # terraform's provider starts collect less often
    monkeypatch.setenv("GOGC", "100")
    assert runner.command_env()["GOGC"] == "100"  # the worker's own setting wins


# --- classification ------------------------------------------------------------------------


def error(summary: str, detail: str = "") -> Diagnostic:
    return Diagnostic(severity="error", summary=summary, detail=detail)


@pytest.mark.parametrize(
    ("summary", "detail", "kind"),
    [
        ("Error acquiring the state lock", "resource temporarily unavailable", "transient"),
        ("creating Route 53 Record: ThrottlingException: Rate exceeded", "", "transient"),
        ("reading S3 Bucket: https response error StatusCode: 503, SlowDown", "", "transient"),
        ('Get "http://x": dial tcp 127.0.0.1:1: connect: connection refused', "", "transient"),
        ('Get "https://x": net/http: TLS handshake timeout', "", "transient"),
        ("waiting for Route53 change: timeout while waiting for state", "", "transient"),
        ("Saved plan is stale", "the state was changed by another operation", "stale_plan"),
        (
            "Unsupported argument",
            'An argument named "timeout" is not expected here.',
            "configuration",
        ),
        (
            "Unsupported block type",
            'Blocks of type "timeouts" are not expected here.',
            "configuration",
        ),
        ("creating S3 Bucket: StatusCode: 403, AccessDenied", "", "configuration"),
        ("Invalid reference", "A reference to a resource type must be followed", "configuration"),
    ],
)
def test_classify(summary: str, detail: str, kind: str) -> None:
    assert classify([error(summary, detail)]) == kind


def test_classify_mixed_errors_is_not_transient() -> None:
    diagnostics = [error("connection refused"), error("Unsupported argument")]
    assert classify(diagnostics) == "configuration"
    warnings_only = [Diagnostic(severity="warning", summary="Deprecated attribute")]
    assert classify(warnings_only, "Error: connection reset by peer") == "transient"
    assert classify([], "", signaled=True) == "transient"


def test_format_event_keeps_the_diagnostic() -> None:
    event = {
        "@level": "error",
        "@message": "Error: Unsupported argument",
        "type": "diagnostic",
        "diagnostic": {
            "severity": "error",
            "summary": "Unsupported argument",
            "detail": 'An argument named "x" is not expected here.',
            "address": "aws_s3_bucket.b",
            "range": {"filename": "main.tf", "start": {"line": 3}},
        },
    }
    assert format_event(event) == (
        "[error] Error: Unsupported argument (aws_s3_bucket.b, main.tf line 3): "
        'An argument named "x" is not expected here.'
    )
    assert format_event({"@level": "info", "@message": "Plan: 1 to add"}) == "[info] Plan: 1 to add"
