"""A Client manifest's customDomain: settings commit at once, a live client's new host
is a run that waits for review (as `flask domains attach`), a typo is refused."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from app.extensions import db
from app.models import InfraRun, LlmClient
from app.models.common import utcnow
from app.services.clients import mark_deployed_without_infrastructure


@pytest.fixture
def app(redis_app):
    """The shared app with Redis: a live client's new host is a queued run."""
    return redis_app


def document(tenant, **spec) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "chatdock/v1",
            "kind": "Client",
            "metadata": {"name": "bot", "account": tenant.account.account_number},
            "spec": spec,
        }
    )


def test_attaching_a_domain_to_a_live_client_is_a_run_waiting_for_review(api, tenant_a):
    mark_deployed_without_infrastructure(tenant_a.client)
    tenant_a.domain.verified_at = utcnow()  # its zone has the client records
    db.session.commit()
    owner = api(tenant_a.owner_token)
    typo = owner(
        "POST",
        "/apply",
        data=document(tenant_a, customDomain="alpha.exampel"),
        content_type="application/yaml",
    )
    assert typo.status_code == 400
    assert "spec.customDomain: account" in typo.get_json()["error"]["message"]
    assert "did you mean 'alpha.example'?" in typo.get_json()["error"]["message"]

    body = document(tenant_a, customDomain="alpha.example", temperature=0.1)
    dry = owner("POST", "/apply?dry_run=true", data=body, content_type="application/yaml")
    assert dry.get_json()["results"][0]["line"] == "Client/bot: changed (temperature, customDomain)"
    assert dry.get_json()["infrastructure"] == []
    runs_before = len(db.session.scalars(select(InfraRun)).all())

    done = owner("POST", "/apply", data=body, content_type="application/yaml").get_json()
    assert done["results"][0]["line"] == "Client/bot: changed (temperature, customDomain)"
    [note] = done["infrastructure"]
    assert note.startswith("Client/bot: attached to alpha.example; run ")
    assert note.endswith("waits for review")
    db.session.rollback()
    client = db.session.get(LlmClient, tenant_a.client.id)
    assert (client.temperature, client.custom_domain.domain) == (0.1, "alpha.example")
    runs = db.session.scalars(select(InfraRun).order_by(InfraRun.id)).all()
    assert len(runs) > runs_before
    assert not runs[-1].auto_approve  # waits for an operator's approval

    number = tenant_a.account.account_number
    shown = owner("GET", f"/manifests/client/bot?account={number}").get_json()
    assert shown["spec"]["customDomain"] == "alpha.example"
    again = owner("POST", "/apply", json=shown).get_json()
    assert again["results"][0]["outcome"] == "unchanged" and again["infrastructure"] == []
