"""Terraform state in S3 (``TF_STATE_BACKEND=s3``): removed with its workspace.

With the S3 backend the state of a workspace is an object in ``TF_STATE_BUCKET``, next to
its lock file (``use_lockfile``: ``<key>.tflock``). A deleted client or domain must leave
neither behind, so the job that destroyed its infrastructure deletes both.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

from app.config import Settings


def s3_client(settings: Settings) -> Any:
    """boto3's S3 client on the same AWS settings terraform uses (moto in development)."""
    return boto3.client(
        "s3",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=Config(s3={"addressing_style": "path"}) if settings.AWS_ENDPOINT_URL else None,
    )


def uses_s3_state(settings: Settings) -> bool:
    return settings.TF_STATE_BACKEND == "s3"


def delete_state(settings: Settings, state_key: str) -> list[str]:
    """Delete the state object ``state_key`` and its lock file; returns the keys that
    existed (none with the local backend: the workspace folder holds that state)."""
    if not uses_s3_state(settings):
        return []
    s3 = s3_client(settings)
    bucket = settings.TF_STATE_BUCKET.strip()
    wanted = {state_key, f"{state_key}.tflock"}
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=state_key).get("Contents", [])
    found = sorted(obj["Key"] for obj in listed if obj["Key"] in wanted)
    if found:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in found]})
    return found


def clear_stale_lock(settings: Settings, state_key: str) -> str | None:
    """Delete the state's lock file left by a terraform that died with its machine (a
    lock file has no expiry). Only the holder of the workspace's Redis lock calls this,
    and terraform stops as soon as that lock is lost: no live terraform holds this lock
    file. Returns the lock's ID and owner when one was removed."""
    if not uses_s3_state(settings):
        return None
    s3 = s3_client(settings)
    bucket, key = settings.TF_STATE_BUCKET.strip(), f"{state_key}.tflock"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    s3.delete_object(Bucket=bucket, Key=key)
    try:
        info = json.loads(body)
        return f"{info.get('ID', '?')} ({info.get('Operation', '?')} by {info.get('Who', '?')})"
    except ValueError:
        return "unreadable"
