"""Plan summaries from crafted ``terraform show -json`` documents (format 1.2, as
Terraform 1.11 writes them). The summary of a real plan is checked in
test_terraform_runner.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from app.infra.plan_summary import (
    SENSITIVE,
    UNKNOWN,
    AttrChange,
    PlanFormatError,
    PlanSummary,
    map_actions,
    plan_file_hash,
    summarize_plan,
)


def rc(address: str, actions: list[str], before: Any, after: Any, **change: Any) -> dict:
    type_, name = address.split(".")[-2:]
    entry = {
        "address": address,
        "mode": "managed",
        "type": type_,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": change.pop("after_unknown", {}),
            "before_sensitive": change.pop("before_sensitive", False if before is None else {}),
            "after_sensitive": change.pop("after_sensitive", False if after is None else {}),
            **change,
        },
    }
    if address.startswith("module."):
        entry["module_address"] = ".".join(address.split(".")[:2])
    return entry


def show(*changes: dict, outputs: dict | None = None) -> dict:
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "resource_changes": list(changes),
        "output_changes": outputs or {},
        "applyable": True,
        "complete": True,
        "errored": False,
    }


RECORD = {"name": "demo.3141-5926-5359.api.example.com", "type": "A", "ttl": 300}

CREATE = rc(
    "module.dns.aws_route53_record.default",
    ["create"],
    None,
    {**RECORD, "records": ["10.0.0.1"], "zone_id": "Z1"},
    after_unknown={"id": True, "fqdn": True},
)
UPDATE = rc(
    "aws_route53_record.x",
    ["update"],
    {**RECORD, "id": "Z1_x_A", "ttl": 300, "records": ["10.0.0.1"], "fqdn": "x.example.com"},
    {**RECORD, "ttl": 60, "records": ["10.0.0.1", "10.0.0.2"]},
    after_unknown={"id": True, "fqdn": True},
)
REPLACE = rc(
    "aws_s3_bucket.b",
    ["delete", "create"],
    {"bucket": "old", "arn": "arn:aws:s3:::old", "tags": None},
    {"bucket": "new", "tags": {}},
    after_unknown={"arn": True},
    replace_paths=[["bucket"]],
)
DELETE = rc("aws_route53_zone.gone", ["delete"], {"name": "gone.example.com"}, None)
NOOP = rc("aws_route53_zone.same", ["no-op"], {"name": "a.com"}, {"name": "a.com"})
READ = {**rc("aws_route53_zone.z", ["read"], None, {"name": "example.com"}), "mode": "data"}


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["create"], "create"),
        (["delete"], "delete"),
        (["update"], "update"),
        (["delete", "create"], "replace"),
        (["create", "delete"], "replace"),
        (["no-op"], "no-op"),
        (["read"], "read"),
    ],
)
def test_actions_map_to_one_word(actions: list[str], expected: str) -> None:
    assert map_actions(actions) == expected


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(PlanFormatError):
        map_actions(["forget"])
    with pytest.raises(PlanFormatError):
        summarize_plan({"format_version": "2.0", "resource_changes": []})


def test_counts_and_flags() -> None:
    summary = summarize_plan(show(CREATE, UPDATE, REPLACE, DELETE, NOOP, READ))
    assert summary.counts == {
        "create": 1,
        "update": 1,
        "replace": 1,
        "delete": 1,
        "no-op": 1,
        "read": 1,
    }
    assert not summary.only_creates and not summary.no_changes
    assert summary.format_version == "1.2" and summary.terraform_version == "1.11.4"

    creates = summarize_plan(show(CREATE, NOOP, READ))
    assert creates.only_creates and not creates.no_changes

    nothing = summarize_plan(show(NOOP))
    assert nothing.no_changes and not nothing.only_creates
    assert nothing.text().startswith("No changes.")


def test_output_only_changes_are_changes() -> None:
    summary = summarize_plan(show(NOOP, outputs={"fqdn": {"actions": ["update"]}}))
    assert not summary.no_changes and not summary.only_creates
    assert "~ output.fqdn (update)" in summary.text()


def test_resource_fields() -> None:
    (create,) = summarize_plan(show(CREATE)).changes
    assert create.address == "module.dns.aws_route53_record.default"
    assert create.module_address == "module.dns"
    assert (create.type, create.name, create.action) == ("aws_route53_record", "default", "create")
    assert create.after_unknown == {"id": True, "fqdn": True}
    # unknown computed attributes of a new resource are not listed as changes
    assert {a.path for a in create.changed_attributes} == {
        "name",
        "type",
        "ttl",
        "records[0]",
        "zone_id",
    }


def test_update_diff() -> None:
    (update,) = summarize_plan(show(UPDATE)).changes
    by_path = {a.path: a for a in update.changed_attributes}
    assert by_path["ttl"] == AttrChange("ttl", 300, 60, False)
    assert by_path["records[1]"] == AttrChange("records[1]", None, "10.0.0.2", False)
    assert by_path["fqdn"].after == UNKNOWN  # was known, becomes known after apply
    assert "records[0]" not in by_path and "name" not in by_path


def test_replace_shows_forcing_attribute_and_ignores_null_vs_empty() -> None:
    (replace,) = summarize_plan(show(REPLACE)).changes
    assert replace.action == "replace" and replace.actions == ["delete", "create"]
    paths = [a.path for a in replace.changed_attributes]
    assert paths == ["arn", "bucket"]  # tags: null -> {} is not a change
    assert (
        '    ~ bucket: "old" -> "new" (forces replacement)'
        in summarize_plan(show(REPLACE)).text().splitlines()
    )


def test_sensitive_values_are_masked_everywhere() -> None:
    secret = rc(
        "aws_db_instance.db",
        ["update"],
        {"password": "hunter2", "tags": {"owner": "a", "token": "t-old"}, "port": 5432},
        {"password": "correct horse", "tags": {"owner": "b", "token": "t-new"}, "port": 5432},
        before_sensitive={"password": True, "tags": {"token": True}},
        after_sensitive={"password": True, "tags": {"token": True}},
    )
    summary = summarize_plan(show(secret))
    (change,) = summary.changes
    by_path = {a.path: a for a in change.changed_attributes}
    assert by_path["password"] == AttrChange("password", SENSITIVE, SENSITIVE, True)
    assert by_path["tags.token"] == AttrChange("tags.token", SENSITIVE, SENSITIVE, True)
    assert by_path["tags.owner"] == AttrChange("tags.owner", "a", "b", False)
    assert change.after["password"] == SENSITIVE and change.before["tags"]["token"] == SENSITIVE
    stored = json.dumps(summary.to_dict())
    for leaked in ("hunter2", "correct horse", "t-old", "t-new"):
        assert leaked not in stored and leaked not in summary.text()
    assert "~ password: (sensitive) -> (sensitive)" in summary.text()


def test_whole_sensitive_attribute_and_unchanged_secret() -> None:
    same = rc(
        "aws_x.y",
        ["update"],
        {"secret": {"a": 1}, "name": "n1"},
        {"secret": {"a": 1}, "name": "n2"},
        before_sensitive={"secret": True},
        after_sensitive={"secret": True},
    )
    (change,) = summarize_plan(show(same)).changes
    assert [a.path for a in change.changed_attributes] == ["name"]
    assert change.before["secret"] == SENSITIVE


def test_text_reads_like_terraform() -> None:
    text = summarize_plan(show(CREATE, UPDATE, REPLACE, DELETE, NOOP, READ)).text()
    lines = text.splitlines()
    assert lines[0] == "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete."
    assert "+ create module.dns.aws_route53_record.default" in lines
    assert "~ update aws_route53_record.x" in lines
    assert "    ~ ttl: 300 -> 60" in lines
    assert '    + records[1] = "10.0.0.2"' in lines
    assert '    ~ fqdn: "x.example.com" -> (known after apply)' in lines
    assert "-/+ replace aws_s3_bucket.b" in lines
    assert "- delete aws_route53_zone.gone" in lines
    assert "<= read aws_route53_zone.z" in lines
    assert not any("aws_route53_zone.same" in line for line in lines)


def test_round_trip_through_json() -> None:
    summary = summarize_plan(show(CREATE, UPDATE, REPLACE, DELETE, NOOP, READ))
    stored = json.loads(json.dumps(summary.to_dict()))
    assert stored["counts"]["replace"] == 1 and stored["only_creates"] is False
    again = PlanSummary.from_dict(stored)
    assert again == summary
    assert again.text() == summary.text()
    assert PlanSummary.from_dict({**stored, "future_key": 1}) == summary


def test_plan_file_hash(tmp_path: Path) -> None:
    plan = tmp_path / "plan.tfplan"
    plan.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 5000)
    assert plan_file_hash(plan) == hashlib.sha256(plan.read_bytes()).hexdigest()
