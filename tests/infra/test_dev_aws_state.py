"""The run command's AWS (moto) keeps its state across restarts: zones and records come
back with the same IDs, so the Terraform state and the database still match Route53."""

from __future__ import annotations

import boto3
import pytest

from app.models import DeploymentStatus, RunStatus
from app.services import infra
from app.services.accounts import create_account
from devtools.services import AWS_TEST_ENV, moto_server
from devtools.stack import DEV_STATE_BUCKET, ensure_hosted_zone, ensure_state_bucket
from tests.conftest import CUSTOMER_DOMAIN, host_of
from tests.infra.conftest import a_records, fresh, run_burst_worker, wait_until

pytestmark = pytest.mark.one_machine  # SQLite pass only (tests/conftest.py)


def route53(url: str):
    return aws(url, "route53")


def aws(url: str, service: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def record(name: str, value: str) -> dict:
    return {
        "Changes": [
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": name,
                    "Type": "A",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": value}],
                },
            }
        ]
    }


def test_moto_state_survives_a_restart(tmp_path):
    recording = tmp_path / "instance" / "moto-recording.jsonl"
    with moto_server(recording=recording) as url:
        zone = route53(url).create_hosted_zone(Name="api.localhost", CallerReference="one")
        zone_id = zone["HostedZone"]["Id"]
        route53(url).change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch=record("bot.1111-2222-3333.api.localhost", "127.0.0.1"),
        )
    with moto_server(recording=recording) as url:  # a restart of the run command
        zones = route53(url).list_hosted_zones()["HostedZones"]
        assert [z["Id"] for z in zones] == [zone_id]
        names = [
            r["Name"]
            for r in route53(url).list_resource_record_sets(HostedZoneId=zone_id)[
                "ResourceRecordSets"
            ]
        ]
        assert "bot.1111-2222-3333.api.localhost." in names
        second = route53(url).create_hosted_zone(Name="example.test", CallerReference="two")
    with moto_server(recording=recording) as url:  # and again: later work is kept too
        ids = sorted(z["Id"] for z in route53(url).list_hosted_zones()["HostedZones"])
        assert ids == sorted([zone_id, second["HostedZone"]["Id"]])


def test_without_a_recording_moto_starts_empty(tmp_path):
    with moto_server() as url:
        assert route53(url).list_hosted_zones()["HostedZones"] == []


def test_the_run_commands_state_bucket_is_made_once_and_keeps_terraform_state(tmp_path):

    recording = tmp_path / "instance" / "moto-recording.jsonl"
    with moto_server(recording=recording) as url:
        ensure_state_bucket(url, DEV_STATE_BUCKET)
        s3 = aws(url, "s3")
        s3.put_object(Bucket=DEV_STATE_BUCKET, Key="clients/a/b.tfstate", Body=b"{}")
    with moto_server(recording=recording) as url:  # a restart: the bucket is there already
        ensure_state_bucket(url, DEV_STATE_BUCKET)
        s3 = aws(url, "s3")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [DEV_STATE_BUCKET]
        body = s3.get_object(Bucket=DEV_STATE_BUCKET, Key="clients/a/b.tfstate")["Body"]
        assert body.read() == b"{}"


def test_a_redeploy_after_moto_restarts_on_another_port_reinitialises_the_backend(
    app, make_app, infra_settings, make_client, tmp_path
):
    """The run command restarted: moto replays its recording on a new port, the cached
    workspace's backend still names the old one. The redeploy re-initialises it
    (``init -reconfigure``: the state stays where it was) and plans and applies."""
    recording = tmp_path / "instance" / "moto-recording.jsonl"
    settings = {
        **infra_settings,
        "TF_STATE_BACKEND": "s3",
        "TF_STATE_BUCKET": DEV_STATE_BUCKET,
        "JOB_MAX_RETRIES": 0,
    }
    with moto_server(recording=recording) as first:
        zone_id = ensure_hosted_zone(first, CUSTOMER_DOMAIN).rsplit("/", 1)[-1]
        ensure_state_bucket(first, DEV_STATE_BUCKET)
        settings |= {"AWS_ENDPOINT_URL": first, "ROUTE53_ZONE_ID": zone_id}
        with make_app(**settings).app_context() as context:
            client = make_client(create_account("Restarted"), "phoenix", deployed=False)
            client_id, host = client.id, host_of(client)
            run = infra.request_deploy(client, auto_approve=True)
            run_burst_worker(context.app)
            assert wait_until(run.id, {RunStatus.APPLIED, RunStatus.ERRORED}).status == (
                RunStatus.APPLIED
            )
    with moto_server(recording=recording) as second:  # a restart, on another port
        assert second != first
        with make_app(**{**settings, "AWS_ENDPOINT_URL": second}).app_context() as context:
            again = infra.request_deploy(fresh(client_id), auto_approve=True)
            run_burst_worker(context.app)
            again = wait_until(again.id, {RunStatus.APPLIED, RunStatus.ERRORED})
            assert again.status == RunStatus.APPLIED, again.log
            assert "-reconfigure" in again.log
            assert "Backend configuration changed" not in again.log
            assert len(a_records(route53(second), zone_id, host)) == 1  # the state was kept
            assert fresh(client_id).deployment_status == DeploymentStatus.DEPLOYED
