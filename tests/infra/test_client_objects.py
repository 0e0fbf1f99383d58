"""The Kubernetes objects that serve a client: its route (an HTTPRoute, or an Ingress with
``ROUTING_API=ingress``) in its own workspace, and the wildcard certificates and ListenerSet
its account's clients share, in the account's routing workspace. Built in Python, written
as ``*.k8s.json`` files, applied by the ``kubernetes_objects`` module as they are, and
validated here against the pinned Kubernetes schemas (``kubernetes-validate``) and the
pinned upstream CRDs (Gateway API v1.5.1 Standard, cert-manager v1.20.3) with their CEL
rules; the covering certificates' readiness decides the client's ``tls_status``.

No cluster and no Kubernetes provider exist here: the module's resources are never
planned. Real terraform does evaluate the root module's decoding of the files and the
module's variable checks (a copy of the module without its resources needs no provider).
The readiness checks run the official client against a loopback server that answers as
the API server does for a Certificate.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from app.extensions import db
from app.infra import kubernetes
from app.infra.client_objects import ROUTE_FILE
from app.infra.render import ClientWorkspaceSpec, render_client_workspace
from app.infra.routing_objects import domain_digest
from app.infra.routing_render import RoutingWorkspaceSpec, render_routing_workspace
from app.models import DeploymentStatus, InfraRun, LlmClient, ResourceStatus, RunKind, RunStatus
from app.queue import redis_connection
from app.services import reconcile, runs, tls
from tests.conftest import env
from tests.k8s_schemas import (
    CRDS,
    validate_any,
    validate_certificate,
    validate_kubernetes,
)
from tests.terraform_cli import terraform

ACCOUNT = "3141-5926-5359"
API_DOMAIN = "api.chatdock.test"
LONGEST_NAME = "a" + "-b" * 31  # a 63-character DNS label, hyphens inside
LONGEST_HOST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 56]) + ".test"  # 253
LONGEST_DOMAIN = LONGEST_HOST.split(".", 1)[1]  # 189: the host is a client in it
WILDCARD_SECRET = f"{ACCOUNT}-wildcard-tls"


def settings(**overrides: Any) -> Settings:
    values = {"CUSTOMER_API_DOMAIN": API_DOMAIN, "KUBERNETES_ENABLED": True} | overrides
    return Settings(_env_file=None, **values)


def k8s_spec(
    name: str = "demo", custom_hosts: tuple[tuple[str, str], ...] = (), **overrides: Any
) -> ClientWorkspaceSpec:
    return ClientWorkspaceSpec.from_settings(settings(**overrides), ACCOUNT, name, custom_hosts)


def routing_spec(domains: tuple[str, ...] = (), **overrides: Any) -> RoutingWorkspaceSpec:
    return RoutingWorkspaceSpec.from_settings(settings(**overrides), ACCOUNT, domains)


def domains_of(spec: ClientWorkspaceSpec) -> tuple[str, ...]:
    return tuple(host.split(".", 1)[1] for _, host in spec.custom_hosts)


def rendered(path: Path) -> dict[str, dict]:
    """Every ``*.k8s.json`` object of a rendered workspace, by file name."""
    return {f.name: json.loads(f.read_text()) for f in sorted(path.glob("*.k8s.json"))}


# name, custom hosts, settings
CASES: dict[str, tuple[str, tuple[tuple[str, str], ...], dict[str, Any]]] = {
    "plain": ("demo", (), {}),
    "hyphens": (
        "my-chat-bot",
        (("ZB", "my-chat-bot.shop-eu.example-shop.com"),),
        {"CERT_ISSUER": "le-prod"},
    ),
    "several custom hosts": (
        "bot",
        (("ZA", "bot.a.example"), ("ZB", "bot.b.example"), ("ZC", "bot.c-c.example")),
        {},
    ),
    "longest names": (
        LONGEST_NAME,
        (("ZL", LONGEST_HOST),),
        {
            "KUBERNETES_NAMESPACE": "n" * 63,
            "INGRESS_SERVICE_NAME": "s" * 63,
            "GATEWAY_NAMESPACE": "g" * 63,
            "GATEWAY_NAME": "gw." + "g" * 249,
        },
    ),
}


@pytest.mark.parametrize("api", ["gateway", "ingress"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_object_validates_against_the_pinned_schemas(
    case: str, api: str, tmp_path: Path
) -> None:
    name, custom_hosts, overrides = CASES[case]
    spec = k8s_spec(name, custom_hosts, ROUTING_API=api, **overrides)
    shared = routing_spec(domains_of(spec), ROUTING_API=api, **overrides)
    client_files = rendered(render_client_workspace(spec, tmp_path).path)
    routing_files = rendered(render_routing_workspace(shared, tmp_path).path)
    for obj in [*client_files.values(), *routing_files.values()]:
        validate_any(obj)  # the Kubernetes schemas, or the CRD with its CEL rules
        assert obj["metadata"]["namespace"] == spec.kubernetes.namespace
        assert obj["metadata"]["labels"]["chatdock/account"] == ACCOUNT

    # The client's workspace holds its route and nothing else: no certificate of its own.
    (route,) = client_files.values()
    assert list(client_files) == [ROUTE_FILE]
    assert route["kind"] == ("HTTPRoute" if api == "gateway" else "Ingress")
    hosts = list(spec.hosts)
    assert hosts[0] == f"{spec.client_name}.{ACCOUNT}.{API_DOMAIN}"
    certificates = [o for o in routing_files.values() if o["kind"] == "Certificate"]
    wildcards = [f"*.{ACCOUNT}.{API_DOMAIN}", *(f"*.{d}" for d in sorted(domains_of(spec)))]
    assert sorted(c["spec"]["dnsNames"][0] for c in certificates) == sorted(wildcards)
    for certificate in certificates:
        assert certificate["spec"]["issuerRef"] == {
            "group": "cert-manager.io",
            "kind": "ClusterIssuer",
            "name": spec.kubernetes.cert_issuer,
        }
        assert "commonName" not in certificate["spec"]  # <= 64 characters; names are not
        labels = certificate["spec"]["secretTemplate"]["labels"]
        assert labels == certificate["metadata"]["labels"]
    secrets = {c["spec"]["dnsNames"][0]: c["spec"]["secretName"] for c in certificates}
    if api == "gateway":
        assert route["spec"]["hostnames"] == hosts
        (listeners,) = [o for o in routing_files.values() if o["kind"] == "ListenerSet"]
        by_name = {item["name"]: item for item in listeners["spec"]["listeners"]}
        assert {item["hostname"] for item in by_name.values()} == set(wildcards)
        for item in by_name.values():
            (ref,) = item["tls"]["certificateRefs"]
            assert ref["name"] == secrets[item["hostname"]]
        # Each host reaches the service through the listener whose wildcard covers it.
        for host, parent in zip(hosts, route["spec"]["parentRefs"], strict=True):
            assert parent["name"] == listeners["metadata"]["name"]
            assert by_name[parent["sectionName"]]["hostname"] == "*." + host.split(".", 1)[1]
        assert listeners["spec"]["parentRef"]["name"] == spec.kubernetes.gateway_name
        assert listeners["spec"]["parentRef"]["namespace"] == spec.kubernetes.gateway_namespace
    else:
        assert [rule["host"] for rule in route["spec"]["rules"]] == hosts
        assert route["spec"]["tls"] == [
            {"hosts": [h], "secretName": secrets["*." + h.split(".", 1)[1]]} for h in hosts
        ]
        assert "annotations" not in route["metadata"]  # no ingress-shim Certificate per client
        assert not [o for o in routing_files.values() if o["kind"] == "ListenerSet"]


def test_clients_of_one_account_share_one_listener_and_certificate(tmp_path: Path) -> None:
    one = rendered(render_client_workspace(k8s_spec("one"), tmp_path).path)[ROUTE_FILE]
    two = rendered(render_client_workspace(k8s_spec("two"), tmp_path).path)[ROUTE_FILE]
    assert one["spec"]["parentRefs"] == two["spec"]["parentRefs"]
    assert one["metadata"]["name"] != two["metadata"]["name"]
    shared = rendered(render_routing_workspace(routing_spec(), tmp_path).path)
    assert sorted(shared) == ["certificate-account.k8s.json", "listenerset.k8s.json"]
    (listener,) = shared["listenerset.k8s.json"]["spec"]["listeners"]
    assert listener["name"] == one["spec"]["parentRefs"][0]["sectionName"]
    assert listener["hostname"] == f"*.{ACCOUNT}.{API_DOMAIN}"
    # Another account: its own listener set and certificate, never this account's.
    other = RoutingWorkspaceSpec.from_settings(settings(), "2718-2818-2845")
    names = {o["metadata"]["name"] for o in other.kubernetes_objects().values()}
    assert not names & {o["metadata"]["name"] for o in shared.values()}


def test_the_longest_domain_gives_a_valid_wildcard(tmp_path: Path) -> None:
    assert len(LONGEST_HOST) == 253 and len(f"*.{LONGEST_DOMAIN}") < 253
    files = rendered(render_routing_workspace(routing_spec((LONGEST_DOMAIN,)), tmp_path).path)
    for obj in files.values():
        validate_any(obj)
        assert len(obj["metadata"]["name"]) <= 63
    # A domain too long to hold any client host is refused, with the reason.
    with pytest.raises(ValueError, match="bad name"):
        routing_spec((LONGEST_HOST,))  # 253: no room for a client name in it
    with pytest.raises(ValueError, match="63 custom domains at most"):
        routing_spec(tuple(f"d{i}.example" for i in range(64)))


def test_the_pinned_crds_are_valid_crds_of_the_pinned_versions() -> None:
    for (api_version, kind), path in CRDS.items():
        crd = yaml.safe_load(path.read_text())
        validate_kubernetes(crd)  # a CustomResourceDefinition the pinned Kubernetes accepts
        assert crd["spec"]["names"]["kind"] == kind
        group, version = api_version.split("/")
        assert crd["spec"]["group"] == group
        assert [v["name"] for v in crd["spec"]["versions"] if v["storage"]] == [version]
        annotations = crd["metadata"].get("annotations", {})
        if group == "gateway.networking.k8s.io":
            assert annotations["gateway.networking.k8s.io/bundle-version"] == "v1.5.1"
            assert annotations["gateway.networking.k8s.io/channel"] == "standard"


def _route(api: str = "gateway") -> dict:
    spec = k8s_spec(custom_hosts=(("ZC", "demo.shop.example"),), ROUTING_API=api)
    return copy.deepcopy(spec.kubernetes_objects()[ROUTE_FILE])


def _shared() -> dict[str, dict]:
    return copy.deepcopy(routing_spec(("shop.example",)).kubernetes_objects())


def _listeners(objects: dict[str, dict]) -> list[dict]:
    return objects["listenerset.k8s.json"]["spec"]["listeners"]


@pytest.mark.parametrize(
    "broken",
    [
        # The Kubernetes schemas (Ingress) ...
        lambda: (r := _route("ingress"), r["spec"]["rules"][0]["http"]["paths"][0].pop("pathType"))[
            0
        ],
        lambda: (r := _route("ingress"), r["spec"]["tls"][0].update(hosts="a.example"))[0],
        lambda: (r := _route("ingress"), r["metadata"].update(name="Bad_Name"))[0],
        # ... the Gateway API CRDs' OpenAPI schemas ...
        lambda: (r := _route(), r["spec"].update(hostnames=["*.*.example"]))[0],
        lambda: (r := _route(), r["spec"]["rules"][0]["backendRefs"][0].update(weight=-1))[0],
        lambda: (r := _route(), r["spec"].update(hostname=["x.example"]))[0],
        lambda: (o := _shared()["listenerset.k8s.json"], o["spec"].update(listeners=[]))[0],
        # ... their CEL rules ...
        lambda: (r := _route(), r["spec"]["parentRefs"][1].update(sectionName="account"))[0],
        lambda: (r := _route(), r["spec"]["rules"][0]["backendRefs"][0].pop("port"))[0],
        lambda: (o := _shared(), _listeners(o)[1].update(name="account"))[0][
            "listenerset.k8s.json"
        ],
        lambda: (o := _shared(), _listeners(o)[0]["tls"].update(certificateRefs=[]))[0][
            "listenerset.k8s.json"
        ],
        # ... and cert-manager's.
        lambda: (c := _shared()["certificate-account.k8s.json"], c["spec"].pop("issuerRef"))[0],
        lambda: (c := _shared()["certificate-account.k8s.json"], c["spec"].update(dnsName=["x"]))[
            0
        ],
        lambda: (
            c := _shared()["certificate-account.k8s.json"],
            c["spec"].update(privateKey={"algorithm": "DSA"}),
        )[0],
        lambda: (
            c := _shared()["certificate-account.k8s.json"],
            c["metadata"]["labels"].update({"chatdock/account": "x" * 64}),
        )[0],
    ],
)
def test_the_validation_catches_what_the_api_would_refuse(broken) -> None:
    errors = (kubernetes_validate.ValidationError, jsonschema.ValidationError, AssertionError)
    with pytest.raises(errors):
        validate_any(broken())


def test_the_workspaces_hold_exactly_the_objects(tmp_path: Path) -> None:
    spec = k8s_spec(custom_hosts=(("ZC", "demo.api.example.com"),))
    path = render_client_workspace(spec, tmp_path).path
    assert rendered(path) == spec.kubernetes_objects()
    main = (path / "main.tf").read_text()
    assert 'fileset(path.module, "*.k8s.json")' in main
    tfvars = json.loads((path / "terraform.tfvars.json").read_text())
    assert not {k for k in tfvars if "route" in k or "kubernetes" in k}
    shared = render_routing_workspace(routing_spec(("api.example.com",)), tmp_path)
    assert rendered(shared.path) == routing_spec(("api.example.com",)).kubernetes_objects()

    # A change of the objects changes the config hash (a saved plan becomes stale) ...
    other = render_client_workspace(k8s_spec(ROUTING_API="ingress", custom_hosts=()), tmp_path)
    assert other.config_hash != render_client_workspace(spec, tmp_path / "b").config_hash
    moved = render_routing_workspace(routing_spec(), tmp_path / "c")
    assert moved.config_hash != shared.config_hash  # a domain less: its listener goes
    # ... and without Kubernetes there are neither objects nor the module.
    off = render_client_workspace(k8s_spec(KUBERNETES_ENABLED=False), tmp_path)
    assert not list(off.path.glob("*.k8s.json"))
    assert 'module "kubernetes_objects"' not in (off.path / "main.tf").read_text()
    assert not (off.path / "modules" / "kubernetes_objects").exists()


# --- real terraform: the root module decodes the files, the module checks them ---------


def resourceless_copy(workspace: Path, target: Path) -> Path:
    """The rendered module call, its files and the module minus its resources."""
    module = target / "modules" / "kubernetes_objects"
    module.mkdir(parents=True)
    for name in ("variables.tf", "outputs.tf"):
        shutil.copy(workspace / "modules" / "kubernetes_objects" / name, module / name)
    for path in workspace.glob("*.k8s.json"):
        shutil.copy(path, target / path.name)
    call = re.search(
        r'^module "kubernetes_objects" \{.*?^\}', (workspace / "main.tf").read_text(), re.M | re.S
    )
    assert call, "the rendered main.tf calls the kubernetes_objects module"
    outputs = "".join(
        f'output "{name}" {{\n  value = module.kubernetes_objects.{name}\n}}\n'
        for name in ("objects", "hostnames")
    )
    (target / "main.tf").write_text(call.group(0) + "\n" + outputs)
    return target


def test_terraform_decodes_the_objects_and_checks_them(tmp_path: Path) -> None:
    spec = routing_spec(("shop.example",))
    workspace = render_routing_workspace(spec, tmp_path / "ws").path
    root = resourceless_copy(workspace, tmp_path / "root")

    assert terraform("init", "-input=false", "-no-color", cwd=root).returncode == 0
    applied = terraform("apply", "-auto-approve", "-input=false", "-no-color", cwd=root)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    outputs = json.loads(terraform("output", "-json", "-no-color", cwd=root).stdout)
    assert outputs["objects"]["value"] == {
        name.removesuffix(".k8s.json"): f"{o['kind']}/{o['metadata']['name']}"
        for name, o in spec.kubernetes_objects().items()
    }
    assert outputs["hostnames"]["value"] == sorted([f"*.{ACCOUNT}.{API_DOMAIN}", "*.shop.example"])

    # The module refuses an object of a kind it does not expect (here: a Secret).
    (root / "secret.k8s.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}})
    )
    refused = terraform("plan", "-input=false", "-no-color", cwd=root)
    assert refused.returncode != 0
    assert "Every object must be an HTTPRoute or ListenerSet" in refused.stdout + refused.stderr


# --- tls_status follows the Certificate's Ready condition ------------------------------


class FakeApiServer(ThreadingHTTPServer):
    """Answers GET of cert-manager Certificates as the API server does (JSON, 404 Status)."""

    certificates: dict[tuple[str, str], dict[str, Any]]
    requests: list[tuple[str, str]]  # path, Authorization


class _Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers["Authorization"]))
        match = re.fullmatch(
            r"/apis/cert-manager\.io/v1/namespaces/([^/]+)/certificates/([^/?]+)", self.path
        )
        found = match and self.server.certificates.get((match[1], match[2]))
        body: dict[str, Any] = found or {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "NotFound",
            "code": 404,
        }
        data = json.dumps(body).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def write_kubeconfig(directory: Path, server: str) -> Path:
    """A kubeconfig whose only cluster is ``server`` (what KUBECONFIG points at)."""
    path = directory / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "test-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[FakeApiServer]:
    server = FakeApiServer(("127.0.0.1", 0), _Handler)
    server.certificates, server.requests = {}, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = write_kubeconfig(tmp_path, f"http://127.0.0.1:{server.server_port}")
    with env(KUBECONFIG=str(kubeconfig)):
        yield server
    server.shutdown()
    server.server_close()


def certificate_with(
    *conditions: dict[str, str], name: str = f"{ACCOUNT}-wildcard", not_after: str | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": list(conditions)}
    if not_after:
        status["notAfter"] = not_after
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "chatdock"},
        "spec": {"secretName": f"{name}-tls", "issuerRef": {"name": "letsencrypt-dns01"}},
        "status": status,
    }


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


READY = {"type": "Ready", "status": "True", "reason": "Ready", "message": "up to date"}
NOT_READY = {"type": "Ready", "status": "False", "reason": "DoesNotExist", "message": "issuing"}
ISSUE_FAILED = {"type": "Issuing", "status": "False", "reason": "Failed", "message": "ACME 403"}
DEFAULT_HOST = f"demo.{ACCOUNT}.{API_DOMAIN}"
CERTIFICATES_PATH = "/apis/cert-manager.io/v1/namespaces/chatdock/certificates"


@pytest.fixture
def k8s_app(make_app):
    with make_app(KUBERNETES_ENABLED=True, TLS_RENEWAL_MARGIN_DAYS=10).app_context():
        yield


@pytest.mark.parametrize(
    ("conditions", "expires_in_days", "status", "detail"),
    [
        ((READY,), 60, ResourceStatus.READY, "valid until"),
        ((NOT_READY,), None, ResourceStatus.PENDING, "issuing"),
        ((NOT_READY, ISSUE_FAILED), None, ResourceStatus.ERRORED, "ACME 403"),
        ((), None, ResourceStatus.PENDING, "no Ready condition yet"),
        (None, None, ResourceStatus.PENDING, "does not exist"),  # no Certificate (yet): 404
        # A failed renewal is noticed while the old certificate still serves ...
        ((READY, ISSUE_FAILED), 30, ResourceStatus.READY, "last renewal failed: ACME 403"),
        # ... and is an error once the certificate is about to expire.
        ((READY, ISSUE_FAILED), 3, ResourceStatus.ERRORED, "was not renewed: ACME 403"),
        ((READY,), -1, ResourceStatus.ERRORED, "not renewed"),
    ],
)
def test_tls_status_reads_the_covering_certificate(
    api_server, k8s_app, conditions, expires_in_days, status, detail
) -> None:
    # The date is made here, not in the parameters: the ids of a test must not depend on
    # the second it is collected in (the xdist workers collect apart and must agree).
    not_after = in_days(expires_in_days) if expires_in_days is not None else None
    if conditions is not None:
        certificate = certificate_with(*conditions, not_after=not_after)
        validate_certificate(certificate)  # the answers are what cert-manager writes
        api_server.certificates["chatdock", f"{ACCOUNT}-wildcard"] = certificate
    got, text = tls.covering_status(ACCOUNT, [DEFAULT_HOST])
    assert got == status and detail in text
    assert api_server.requests == [  # with the kubeconfig user's token
        (f"{CERTIFICATES_PATH}/{ACCOUNT}-wildcard", "Bearer test-token")
    ]


def test_a_custom_host_is_covered_by_its_domains_certificate_too(api_server, k8s_app) -> None:
    domain_certificate = f"{ACCOUNT}-domain-" + domain_digest("shop.example")
    api_server.certificates["chatdock", f"{ACCOUNT}-wildcard"] = certificate_with(
        READY, not_after=in_days(60)
    )
    api_server.certificates["chatdock", domain_certificate] = certificate_with(
        NOT_READY, name=domain_certificate
    )
    status, detail = tls.covering_status(ACCOUNT, [DEFAULT_HOST, "demo.shop.example"])
    assert status == ResourceStatus.PENDING  # the worst of the two
    assert f"{domain_certificate}: issuing" in detail
    assert [path for path, _ in api_server.requests] == [
        f"{CERTIFICATES_PATH}/{ACCOUNT}-wildcard",
        f"{CERTIFICATES_PATH}/{domain_certificate}",
    ]


def test_an_unreachable_cluster_leaves_tls_pending(tmp_path: Path, k8s_app) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with env(KUBECONFIG=str(kubeconfig)):
        status, detail = tls.covering_status(ACCOUNT, [DEFAULT_HOST])
    assert status == ResourceStatus.PENDING and "could not be asked" in detail


def test_a_cluster_that_does_not_answer_leaves_tls_pending(
    tmp_path: Path, monkeypatch, k8s_app
) -> None:
    """A listening socket that never answers: the call times out instead of hanging."""
    silent = socket.create_server(("127.0.0.1", 0))
    kubeconfig = write_kubeconfig(tmp_path, f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setattr(kubernetes, "API_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    with silent, env(KUBECONFIG=str(kubeconfig)):
        assert tls.covering_status(ACCOUNT, [DEFAULT_HOST])[0] == ResourceStatus.PENDING
    assert time.monotonic() - started < 5


def test_an_apply_sets_tls_status_from_the_certificate(
    api_server, account, make_client, make_app
) -> None:
    client_id = make_client(account, "demo", deployed=False).id
    name = f"{account.account_number}-wildcard"
    api_server.certificates["chatdock", name] = certificate_with(NOT_READY, name=name)
    with make_app(KUBERNETES_ENABLED=True).app_context():
        run = InfraRun(
            workspace_key=f"clients/{account.account_number}/demo",
            kind=RunKind.APPLY,
            status=RunStatus.APPLIED,
            account_id=account.id,
            account_number=account.account_number,
            target_name="demo",
            client_id=client_id,
            hosts=[f"demo.{account.account_number}.{API_DOMAIN}"],
        )
        db.session.add(run)
        db.session.commit()

        runs.sync_client_status(run)
        client = db.session.get(LlmClient, client_id)
        assert client.deployment_status == DeploymentStatus.DEPLOYED
        assert client.tls_status == ResourceStatus.PENDING  # applied, not issued yet

        api_server.certificates["chatdock", name] = certificate_with(
            READY, name=name, not_after=in_days(80)
        )
        runs.sync_client_status(run)
        client = db.session.get(LlmClient, client_id)
        assert client.tls_status == ResourceStatus.READY
        assert client.tls_detail.startswith(f"{name}: valid until ")


def test_the_sweep_re_reads_the_certificates_on_a_schedule(
    api_server, make_app, redis_url, account, make_client
) -> None:
    """Certificates change after the apply (issued later, renewed, failing to renew): the
    workers' sweep reads them again every TLS_CHECK_MINUTES, and what it found shows."""
    number = account.account_number
    name = f"{number}-wildcard"
    make_client(account, "demo")
    application = make_app(KUBERNETES_ENABLED=True, REDIS_URL=redis_url, TLS_CHECK_MINUTES=60)
    api_server.certificates["chatdock", name] = certificate_with(
        READY, name=name, not_after=in_days(60)
    )
    with application.app_context():
        redis = redis_connection()
        redis.flushdb()
        assert "checked, 1 client(s) changed" in reconcile.sweep().lines()[-1]
        assert fresh_tls(number) == ResourceStatus.READY

        # Its renewal fails, until the certificate is 3 days from its end.
        api_server.certificates["chatdock", name] = certificate_with(
            READY, ISSUE_FAILED, name=name, not_after=in_days(3)
        )
        asked = len(api_server.requests)
        assert "not due" in reconcile.sweep().lines()[-1]  # within the hour: not read
        assert len(api_server.requests) == asked
        assert fresh_tls(number) == ResourceStatus.READY
        redis.delete(tls.WATCH_KEY)  # the hour is over
        assert "checked, 1 client(s) changed" in reconcile.sweep().lines()[-1]
        assert fresh_tls(number) == ResourceStatus.ERRORED
        shown = application.test_cli_runner().invoke(
            args=["clients", "show", "demo", "--account", number]
        )
    assert shown.exit_code == 0
    assert re.search(
        rf"tls:\s+errored \({name}: expires .* was not renewed: ACME 403", shown.output
    )


def fresh_tls(account_number: str) -> ResourceStatus:
    db.session.expire_all()
    client = db.session.execute(db.select(LlmClient).where(LlmClient.name == "demo")).scalar_one()
    assert client.account.account_number == account_number
    return client.tls_status
