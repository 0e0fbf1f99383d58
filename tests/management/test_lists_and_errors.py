"""Lists are filtered and paged in SQL (a member sees exactly their runs past the newest
200 of the platform, with a true total); the model catalog counts only the caller's
clients; a 404 never tells another account's id from a missing one; a JSON body nested
200,000 deep is one clear 400 (issue 21, items 7, 16, 17, 19)."""

from __future__ import annotations

import re

from flask import Flask, g
from sqlalchemy import func, select

from app.extensions import db
from app.models import InfraRun, LlmClient, RunKind, RunStatus
from app.schemas.operations import OPERATIONS
from tests.management.conftest import Tenant
from tests.management.test_roles import _console
from tests.management.test_tenancy import BODIES, RULE_ARG, _ids, _object_rules, _url

MISSING = 2**31 - 1  # a valid id no object has


def _add_runs(tenant: Tenant, count: int) -> list[int]:
    runs = [
        InfraRun(
            workspace_key=f"clients/{tenant.account.account_number}/bot",
            kind=RunKind.APPLY,
            status=RunStatus.APPLIED,
            client_id=tenant.client.id,
            account_id=tenant.account.id,
            account_number=tenant.account.account_number,
            target_name="bot",
        )
        for _ in range(count)
    ]
    db.session.add_all(runs)
    db.session.commit()
    return [run.id for run in runs]


def test_a_member_sees_all_their_runs_behind_the_platforms_newest_200(
    app: Flask, api, tenant_a: Tenant, tenant_b: Tenant, admin_token: str
):
    mine = [tenant_a.run.id, *_add_runs(tenant_a, 3)]
    _add_runs(tenant_b, 206)  # newer than all of A's
    member = api(tenant_a.member_token)
    listed = member("GET", "/runs?per_page=200").get_json()
    assert [r["id"] for r in listed["items"]] == sorted(mine, reverse=True)
    assert listed["total"] == 4
    second = member("GET", "/runs?per_page=3&page=2").get_json()
    assert [r["id"] for r in second["items"]] == [min(mine)]
    assert second["total"] == 4
    everything = api(admin_token)("GET", "/runs?per_page=200").get_json()
    assert everything["total"] == 4 + 207
    assert len(everything["items"]) == 200
    page = _console(app, tenant_a.member.email).get("/admin/runs").get_data(as_text=True)
    assert _runs_shown(page) == set(mine)
    g.pop("_login_user", None)  # the test's app context (and g) outlives each client
    admin = _console(app, "root@chatdock.test")
    first, last = (admin.get(f"/admin/runs?page={n}").get_data(as_text=True) for n in (1, 3))
    assert len(_runs_shown(first)) == 100 and "Older" in first and "Newer" not in first
    assert _runs_shown(last) == set(range(1, 12)) and "Newer" in last and "Older" not in last


def _runs_shown(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/admin/runs/(\d+)"', page)}


def test_every_list_pages_with_a_true_total(api, tenant_a: Tenant, make_client):
    for n in range(4):
        make_client(tenant_a.account, f"extra-{n}", deployed=False)
    url = f"/accounts/{tenant_a.account.id}/clients?per_page=2&page=3"
    listed = api(tenant_a.member_token)("GET", url).get_json()
    assert listed["total"] == 5
    assert [c["name"] for c in listed["items"]] == ["extra-3"]
    beyond = api(tenant_a.member_token)("GET", url.replace("page=3", "page=9")).get_json()
    assert beyond["items"] == [] and beyond["total"] == 5


def test_the_model_catalog_counts_only_the_callers_clients(
    api, tenant_a: Tenant, tenant_b: Tenant, make_client, admin_token: str
):
    for n in range(3):
        make_client(tenant_b.account, f"theirs-{n}", deployed=False)
    model_id = tenant_a.client.llm_model_id

    def count(token: str) -> int:
        items = api(token)("GET", "/models?per_page=200").get_json()["items"]
        return next(m["clients"] for m in items if m["id"] == model_id)

    assert count(tenant_a.member_token) == 1
    assert count(tenant_b.owner_token) == 4
    everyone = db.session.execute(
        select(func.count(LlmClient.id)).where(LlmClient.llm_model_id == model_id)
    ).scalar_one()
    assert count(admin_token) == everyone == 5


def _shape(response) -> tuple[int, str, str]:
    """A 404 with its ids blanked: what tells one id from another."""
    error = response.get_json()["error"]
    return response.status_code, error["code"], re.sub(r"\d+", "#", error["message"])


def test_a_404_never_tells_another_accounts_id_from_a_missing_one(
    app: Flask, api, tenant_a: Tenant, tenant_b: Tenant
):
    caller = api(tenant_a.owner_token)
    theirs = _ids(tenant_b)
    missing = dict.fromkeys(theirs, MISSING)
    bodies = {(o.method.upper(), re.sub(RULE_ARG, r"<\1>", o.rule)): o.body for o in OPERATIONS}
    compared = 0
    for rule, method in _object_rules(app, "management."):
        plain = re.sub(RULE_ARG, r"<\1>", rule.rule.removeprefix("/api/v1"))
        body_model = bodies[(method, plain)]
        body = BODIES[body_model] if body_model is not None else None
        answers = [
            caller(method, _url(app, rule, ids).removeprefix("/api/v1"), json=body)
            for ids in (theirs, missing)
        ]
        assert answers[0].status_code == 404, (method, plain, answers[0].get_json())
        assert _shape(answers[0]) == _shape(answers[1]), (method, plain)
        compared += 1
    assert compared >= 20
    attach = f"/clients/{tenant_a.client.id}/domain"
    answers = [
        caller("PUT", attach, json={"domain_id": domain_id})
        for domain_id in (tenant_b.domain.id, MISSING)
    ]
    assert _shape(answers[0]) == _shape(answers[1]) == (404, "not_found", "no domain #")


def test_a_json_body_nested_200000_deep_is_a_clear_400(api, tenant_a: Tenant):
    deep = "[" * 200_000 + "]" * 200_000
    caller = api(tenant_a.member_token)
    for body in (deep, '{"name": ' + deep + "}"):
        response = caller(
            "POST",
            f"/accounts/{tenant_a.account.id}/clients",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert response.get_json()["error"] == {
            "code": "invalid_json",
            "message": "the request body is not valid JSON: nested too deeply",
        }
    assert db.session.execute(select(func.count(LlmClient.id))).scalar_one() == 1
    not_an_object = caller("POST", f"/accounts/{tenant_a.account.id}/clients", json=[1])
    assert not_an_object.status_code == 400
    assert not_an_object.get_json()["error"]["message"] == "the request body must be a JSON object"
