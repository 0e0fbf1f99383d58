"""The run command's AWS (moto) keeps its state across restarts: zones and records come
back with the same IDs, so the Terraform state and the database still match Route53."""

from __future__ import annotations

import boto3

from devtools.services import AWS_TEST_ENV, moto_server


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
    from devtools.stack import DEV_STATE_BUCKET, ensure_state_bucket

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
