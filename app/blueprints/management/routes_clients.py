"""The management API's clients and API keys."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from app.blueprints.management.common import (
    answer,
    caller,
    current_page,
    operation,
    page_answer,
    page_of,
    parse_body,
    who,
)
from app.blueprints.management.views import (
    client_out,
    key_out,
    owned,
    run_out,
)
from app.models import (
    ApiKey,
    CustomDomain,
    LlmClient,
)
from app.schemas import management as s
from app.services import (
    access,
    api_keys,
    domains,
    infra,
    publish,
    usage,
)
from app.services import clients as client_service
from app.services.client_state import client_states

# --- clients --------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/clients",
    summary="The account's clients",
    response=s.ClientOut,
    paged=True,
)
def clients_list(account_id: int) -> ResponseReturnValue:
    page = current_page(client_service.clients_query(access.account_for(caller(), account_id)))
    states = client_states(page.items)
    return page_answer(page, lambda c: client_out(c, states[c.id]))


@operation(
    "POST",
    "/accounts/<int:account_id>/clients",
    summary="Create a client (a draft)",
    response=s.ClientOut,
    status=201,
    body=s.ClientIn,
    creates=True,
)
def clients_create(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    spec = client_service.parse_spec(**parse_body(s.ClientIn).model_dump())
    return answer(client_out(client_service.create_client(account, spec)), 201)


@operation("GET", "/clients/<int:client_id>", summary="One client", response=s.ClientOut)
def client_show(client_id: int) -> ResponseReturnValue:
    return answer(client_out(owned(LlmClient, client_id, "client")))


@operation(
    "PATCH",
    "/clients/<int:client_id>",
    summary="Change a client's settings",
    response=s.ClientOut,
    body=s.ClientPatch,
)
def client_update(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    patch = parse_body(s.ClientPatch).model_dump(exclude_none=True)
    return answer(client_out(client_service.patch_client(client, patch)))


@operation(
    "POST",
    "/clients/<int:client_id>/identity-secret",
    summary="Make a new identity secret (the old one stops verifying users); shown once",
    response=s.IdentitySecretOut,
)
def client_identity_secret(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    secret = publish.rotate_identity_secret(client)
    response = answer(s.IdentitySecretOut(client_id=client.id, identity_secret=secret))
    response.headers["Cache-Control"] = "no-store"
    return response


@operation(
    "GET",
    "/clients/<int:client_id>/usage-by-origin",
    summary="This month's usage of the client by browser origin (widget traffic by site)",
    response=s.ClientUsageOut,
)
def client_usage_by_origin(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    since = usage.month_start()
    rows = usage.report(client_id=client.id, since=since, by="origin")
    origins = [
        s.OriginUsageOut(
            origin=row.group,
            requests=row.requests,
            errors=row.errors,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            refused_budget=row.refused_budget,
            refused_rate=row.refused_rate,
        )
        for row in rows
    ]
    return answer(s.ClientUsageOut(client_id=client.id, since=since, origins=origins))


@operation(
    "DELETE",
    "/clients/<int:client_id>",
    summary="Delete the client and destroy its infrastructure",
    response=s.RunOut,
    status=202,
)
def client_delete(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    return answer(run_out(infra.request_delete(client, requested_by=who())), 202)


@operation(
    "POST",
    "/clients/<int:client_id>/deploy",
    summary="Plan the client's infrastructure; applied once an admin approves (or by policy)",
    response=s.RunOut,
    status=202,
)
def client_deploy(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    return answer(run_out(infra.request_deploy(client, requested_by=who())), 202)


@operation(
    "POST",
    "/clients/<int:client_id>/undeploy",
    summary="Stop serving the client",
    response=s.RunOut,
    status=202,
)
def client_undeploy(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    return answer(run_out(infra.request_undeploy(client, requested_by=who())), 202)


@operation(
    "PUT",
    "/clients/<int:client_id>/domain",
    summary="Serve the client at a custom domain of its account too (null: detach)",
    response=s.ClientOut,
    body=s.AttachIn,
)
def client_domain(client_id: int) -> ResponseReturnValue:
    client = owned(LlmClient, client_id, "client")
    spec = parse_body(s.AttachIn)
    if spec.domain_id is None:
        domains.detach_client(client)
    else:
        domain = owned(CustomDomain, spec.domain_id, "domain")
        domains.attach_client(domain, client)
    return answer(client_out(client))


# --- API keys -------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/api-keys",
    summary="The account's API keys (never secrets)",
    response=s.ApiKeyOut,
    paged=True,
)
def keys_list(account_id: int) -> ResponseReturnValue:
    return page_of(api_keys.api_keys_query(access.account_for(caller(), account_id)), key_out)


@operation(
    "POST",
    "/accounts/<int:account_id>/api-keys",
    summary="Create an API key, shown once",
    response=s.ApiKeyCreated,
    status=201,
    body=s.ApiKeyIn,
    creates=True,
)
def keys_create(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    spec = parse_body(s.ApiKeyIn)
    scope = access.clients_of_account(account.id, spec.client_ids)
    issued = api_keys.create_api_key(account, scope, spec.expires_in_days, spec.label)
    return answer(key_out(issued.api_key, s.ApiKeyCreated, key=issued.plaintext), 201)


@operation(
    "DELETE", "/api-keys/<int:key_id>", summary="Revoke an API key at once", response=s.ApiKeyOut
)
def key_revoke(key_id: int) -> ResponseReturnValue:
    key = owned(ApiKey, key_id, "API key")
    return answer(key_out(api_keys.revoke_api_key(key.key_id)[0]))
