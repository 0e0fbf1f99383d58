"""Workspace rendering and the Terraform modules behind it.

Rendering must be deterministic (the config hash decides whether a saved plan is still
valid), the rendered files ``terraform fmt`` clean, and the workspaces must init (offline,
from the plugin mirror) and validate. The ingress module cannot be validated here (no
Kubernetes provider): its HCL is evaluated and built into the Kubernetes client's models
instead. One plan against a real moto server checks the records end to end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest
from kubernetes.client import ApiClient, V1Ingress
from lark import Token, Tree

from app.config import Settings
from app.devservices import moto_server
from app.infra.render import (
    TERRAFORM_DIR,
    ClientWorkspaceSpec,
    DomainWorkspaceSpec,
    RenderedWorkspace,
    hcl_string,
    render_client_workspace,
    render_domain_workspace,
    workspace_config_hash,
)
from app.infra.terraform import TerraformRunner

ACCOUNT = "3141-5926-5359"
API_DOMAIN = "api.chatdock.test"
CUSTOM_DOMAIN = "api.example.com"
MODULES = TERRAFORM_DIR / "modules"
TF_TIMEOUT = 180

_env_settings = Settings(_env_file=None)
TF = shutil.which(_env_settings.TF_BINARY)
PLUGIN_DIR = Path(_env_settings.TF_PLUGIN_DIR)
# Offline: providers only from the mirror, as the runner does.
INIT_ARGS = ("-input=false", "-no-color", f"-plugin-dir={PLUGIN_DIR}")


def settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **({"CUSTOMER_API_DOMAIN": API_DOMAIN} | overrides))


def client_spec(
    name: str = "demo", custom_hosts: tuple[tuple[str, str], ...] = (), **overrides: Any
) -> ClientWorkspaceSpec:
    return ClientWorkspaceSpec.from_settings(settings(**overrides), ACCOUNT, name, custom_hosts)


def domain_spec(domain: str = CUSTOM_DOMAIN, **overrides: Any) -> DomainWorkspaceSpec:
    return DomainWorkspaceSpec.from_settings(settings(**overrides), ACCOUNT, domain)


def files_of(path: Path) -> dict[str, bytes]:
    """Every file under path (not .terraform/), by relative path."""
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and ".terraform" not in p.relative_to(path).parts
    }


def age_files(path: Path) -> dict[str, int]:
    """Set every file's mtime far into the past; returns the mtimes to compare later."""
    for rel in files_of(path):
        os.utime(path / rel, (1_000_000_000, 1_000_000_000))
    return mtimes(path)


def mtimes(path: Path) -> dict[str, int]:
    return {rel: (path / rel).stat().st_mtime_ns for rel in files_of(path)}


# --- rendering ----------------------------------------------------------------------------


def test_render_is_deterministic_and_self_contained(tmp_path: Path) -> None:
    spec = client_spec(custom_hosts=(("ZONE2", "demo.api.example.com"),))
    first = render_client_workspace(spec, tmp_path / "a")
    second = render_client_workspace(spec, tmp_path / "b")

    assert first.path == tmp_path / "a" / ACCOUNT / "demo"
    assert first.config_hash == second.config_hash
    assert files_of(first.path) == files_of(second.path)
    assert sorted(files_of(first.path)) == [
        "backend.tf",
        "main.tf",
        "modules/client_dns/main.tf",
        "modules/client_dns/outputs.tf",
        "modules/client_dns/variables.tf",
        "modules/client_dns/versions.tf",
        "outputs.tf",
        "providers.tf",
        "terraform.tfvars.json",
        "variables.tf",
    ]
    for module_file in (MODULES / "client_dns").glob("*.tf"):
        copied = first.path / "modules" / "client_dns" / module_file.name
        assert copied.read_bytes() == module_file.read_bytes()
    tfvars = json.loads((first.path / "terraform.tfvars.json").read_text())
    assert tfvars == spec.tfvars()
    assert tfvars["default_host"] == f"demo.{ACCOUNT}.{API_DOMAIN}"
    assert tfvars["custom_records"] == [{"name": "demo.api.example.com", "zone_id": "ZONE2"}]
    assert workspace_config_hash(first.path) == first.config_hash


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    preview = render_client_workspace(client_spec(), tmp_path, dry_run=True)
    assert not tmp_path.joinpath(ACCOUNT).exists()
    assert render_client_workspace(client_spec(), tmp_path) == preview
    domain = render_domain_workspace(domain_spec(), tmp_path, dry_run=True)
    assert not domain.path.exists()
    assert render_domain_workspace(domain_spec(), tmp_path) == domain


def test_rerender_rewrites_nothing_and_a_change_only_what_changed(tmp_path: Path) -> None:
    rendered = render_client_workspace(client_spec(), tmp_path)
    before = age_files(rendered.path)

    again = render_client_workspace(client_spec(), tmp_path)
    assert again == rendered
    assert mtimes(rendered.path) == before

    changed = render_client_workspace(client_spec(DNS_TTL=60), tmp_path)
    assert changed.config_hash != rendered.config_hash
    after = mtimes(rendered.path)
    assert {rel for rel in after if after[rel] != before[rel]} == {"terraform.tfvars.json"}
    assert json.loads((rendered.path / "terraform.tfvars.json").read_text())["dns_ttl"] == 60


def test_stale_config_is_removed_and_runtime_files_are_kept(tmp_path: Path) -> None:
    with_k8s = render_client_workspace(client_spec(KUBERNETES_ENABLED=True), tmp_path)
    path = with_k8s.path
    assert (path / "modules" / "ingress" / "main.tf").is_file()
    runtime = {
        "terraform.tfstate": b"{}",
        "terraform.tfstate.backup": b"{}",
        "run-7.tfplan": b"plan",
        ".terraform.lock.hcl": b"# lock",
        ".terraform/modules/modules.json": b"{}",
        ".terraform/modules/x/main.tf": b"# a downloaded module",
        "run-7.log": b"log",
    }
    for rel, data in runtime.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    assert workspace_config_hash(path) == with_k8s.config_hash  # runtime files are not config
    (path / "extra.tf").write_text("# left behind\n")
    (path / "modules" / "old").mkdir()
    (path / "modules" / "old" / "main.tf").write_text("# left behind\n")
    assert workspace_config_hash(path) != with_k8s.config_hash

    without = render_client_workspace(client_spec(), tmp_path)

    assert without.config_hash != with_k8s.config_hash
    assert not (path / "modules" / "ingress").exists()
    assert not (path / "modules" / "old").exists()
    assert not (path / "extra.tf").exists()
    assert "kubernetes" not in (path / "providers.tf").read_text()
    for rel, data in runtime.items():
        assert (path / rel).read_bytes() == data
    assert workspace_config_hash(path) == without.config_hash


def test_domain_workspace(tmp_path: Path) -> None:
    rendered = render_domain_workspace(domain_spec("API.Example.com."), tmp_path)

    assert rendered.path == tmp_path / ACCOUNT / "_domains" / CUSTOM_DOMAIN
    assert sorted(p for p in files_of(rendered.path) if p.startswith("modules/")) == [
        f"modules/custom_domain/{name}"
        for name in ("main.tf", "outputs.tf", "variables.tf", "versions.tf")
    ]
    tfvars = json.loads((rendered.path / "terraform.tfvars.json").read_text())
    assert tfvars["domain"] == CUSTOM_DOMAIN
    assert render_domain_workspace(domain_spec(), tmp_path) == rendered


def test_spec_normalizes_settings() -> None:
    spec = client_spec(
        INGRESS_IPS="10.0.0.10, 10.0.0.9,10.0.0.10",
        ROUTE53_ZONE_ID="/hostedzone/ZBASE",
        custom_hosts=(("/hostedzone/ZB", "Demo.B.example"), ("ZA", "demo.a.example")),
    )
    assert spec.ingress_ips == ("10.0.0.9", "10.0.0.10")
    assert spec.zone_id == "ZBASE"
    assert spec.custom_hosts == (("ZA", "demo.a.example"), ("ZB", "demo.b.example"))
    assert spec.hosts == (f"demo.{ACCOUNT}.{API_DOMAIN}", "demo.a.example", "demo.b.example")
    assert spec.tls_secret_name == f"{ACCOUNT}-demo-tls"

    alias = client_spec(
        DNS_RECORD_MODE="alias", INGRESS_LB_DNS_NAME="lb.elb.example", INGRESS_LB_ZONE_ID="ZLB"
    )
    assert alias.ingress_ips == ()
    assert alias.ingress_lb_dns_name == "lb.elb.example"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: client_spec("Bad_Name"), "client_name"),
        (lambda: client_spec("../x"), "client_name"),
        (lambda: ClientWorkspaceSpec.from_settings(settings(), "../../etc", "demo"), "account"),
        (lambda: client_spec(INGRESS_IPS="10.0.0.300"), "IPv4"),
        (lambda: client_spec(INGRESS_IPS="::1"), "IPv4"),
        (lambda: client_spec(INGRESS_IPS=""), "INGRESS_IPS"),
        (lambda: client_spec(DNS_RECORD_MODE="cname"), "DNS_RECORD_MODE"),
        (lambda: client_spec(DNS_RECORD_MODE="alias"), "INGRESS_LB"),
        (lambda: client_spec(TF_STATE_BACKEND="s3"), "TF_STATE_BUCKET"),
        (lambda: client_spec(TF_STATE_BACKEND="gcs"), "TF_STATE_BACKEND"),
        (lambda: client_spec(AWS_ENDPOINT_URL="localhost:5000"), "AWS_ENDPOINT_URL"),
        (lambda: client_spec(custom_hosts=(("ZA", "x.example"), ("ZB", "x.example"))), "unique"),
        (lambda: client_spec(custom_hosts=(("bad id", "x.example"),)), "zone id"),
        (lambda: domain_spec(f"x.{API_DOMAIN}"), "overlaps"),
        (lambda: domain_spec("com"), "DNS name"),
        (lambda: domain_spec("a..example.com"), "DNS name"),
    ],
)
def test_spec_rejects_bad_input(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_backend_and_provider_blocks(tmp_path: Path) -> None:
    local = render_client_workspace(client_spec(), tmp_path)
    assert 'path = "terraform.tfstate"' in (local.path / "backend.tf").read_text()
    assert "endpoints" not in (local.path / "providers.tf").read_text()

    s3 = render_client_workspace(
        client_spec(
            "s3",
            TF_STATE_BACKEND="s3",
            TF_STATE_BUCKET="state",
            AWS_ENDPOINT_URL="http://127.0.0.1:5000/",
        ),
        tmp_path,
    )
    backend = (s3.path / "backend.tf").read_text()
    assert 'key          = "clients/3141-5926-5359/s3.tfstate"' in backend
    assert "use_lockfile = true" in backend
    assert 's3  = "http://127.0.0.1:5000"' in backend
    providers = (s3.path / "providers.tf").read_text()
    for service in ("acm", "route53", "s3", "sts"):
        assert re.search(rf"^\s+{service}\s+= var\.aws_endpoint_url$", providers, re.M)
    assert hcl_string('a"${b}%{c}\n') == '"a\\"$${b}%%{c}\\n"'


# --- terraform: fmt, init + validate, size --------------------------------------------------


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of offline terraform processes, with moto-style dummy credentials."""
    # The runner's own environment: inherited TF_* dropped, automation flags set.
    env = TerraformRunner(tmp_path_factory.mktemp("tf"), plugin_dir=str(PLUGIN_DIR)).command_env()
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    return env | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def terraform(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TF), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TF_TIMEOUT,
        check=False,
    )


def init_and_validate(path: Path, env: dict[str, str]) -> dict[str, Any]:
    """terraform init + validate; the validate JSON, or the failing init's output."""
    init = terraform("init", *INIT_ARGS, cwd=path, env=env)
    if init.returncode:
        return {"valid": False, "init": init.stdout + init.stderr}
    return json.loads(terraform("validate", "-json", "-no-color", cwd=path, env=env).stdout)


@pytest.fixture(scope="module")
def validated(
    tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Rendered workspaces and bare modules, each init'ed and validated (in parallel)."""
    root = tmp_path_factory.mktemp("validate")
    targets = {
        "client_workspace": render_client_workspace(
            client_spec(custom_hosts=(("ZONE2", "demo.api.example.com"),)), root / "ws"
        ).path,
        "domain_workspace": render_domain_workspace(domain_spec(), root / "ws").path,
    }
    for module in ("client_dns", "custom_domain"):
        targets[module] = Path(shutil.copytree(MODULES / module, root / "modules" / module))
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        runs = {
            name: pool.submit(init_and_validate, path, tf_env) for name, path in targets.items()
        }
    return {name: (targets[name], run.result()) for name, run in runs.items()}


@pytest.mark.parametrize(
    "target",
    ["client_workspace", "domain_workspace", "client_dns", "custom_domain"],
)
def test_init_and_validate_offline(validated: dict, target: str) -> None:
    _path, result = validated[target]
    assert result["valid"], result
    assert result["warning_count"] == 0, result["diagnostics"]


def test_workspace_stays_small_after_init(validated: dict) -> None:
    """init links the provider from the mirror; the ~700 MB binary is never copied."""
    path, result = validated["client_workspace"]
    assert result["valid"]
    size = 0
    for root, dirs, names in os.walk(path):  # os.walk does not follow symlinks
        for name in dirs + names:
            size += os.lstat(os.path.join(root, name)).st_size
    assert size < 1_000_000, f"{size} bytes after init"
    provider = path / ".terraform/providers/registry.terraform.io/hashicorp/aws"
    platforms = [p for version in provider.iterdir() for p in version.iterdir()]
    assert platforms and all(p.is_symlink() for p in platforms)
    assert (path / ".terraform.lock.hcl").is_file()


def test_rendered_files_are_fmt_clean(tmp_path: Path, tf_env: dict[str, str]) -> None:
    variants = [
        client_spec("plain"),
        client_spec("k8s", KUBERNETES_ENABLED=True, custom_hosts=(("ZC", "k8s.example.org"),)),
        client_spec("moto", AWS_ENDPOINT_URL="http://127.0.0.1:5000"),
        client_spec("s3", TF_STATE_BACKEND="s3", TF_STATE_BUCKET="b"),
        client_spec(
            "s3moto",
            TF_STATE_BACKEND="s3",
            TF_STATE_BUCKET="b",
            AWS_ENDPOINT_URL="http://127.0.0.1:5000",
            KUBERNETES_ENABLED=True,
        ),
        client_spec(
            "alias",
            DNS_RECORD_MODE="alias",
            INGRESS_LB_DNS_NAME="lb.elb.example",
            INGRESS_LB_ZONE_ID="ZLB",
            ROUTE53_ZONE_ID="ZBASE",
        ),
    ]
    for spec in variants:
        render_client_workspace(spec, tmp_path)
    render_domain_workspace(domain_spec(), tmp_path)
    render_domain_workspace(
        domain_spec("b.example", TF_STATE_BACKEND="s3", TF_STATE_BUCKET="b"), tmp_path
    )

    for target in (MODULES, tmp_path):
        result = terraform(
            "fmt", "-check", "-recursive", "-diff", str(target), cwd=tmp_path, env=tf_env
        )
        assert result.returncode == 0, result.stdout + result.stderr


# --- the ingress module, evaluated into Kubernetes models ---------------------------------


class Block(dict):
    """A block body (as opposed to an object value): nested blocks are lists of these."""


def _kids(node: Tree) -> list[Tree]:
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _name(node: Tree) -> str:
    """The text of an identifier, or the value of a plain string label."""
    if node.data == "string":
        return _eval(node, {})
    return str(node.children[0])


def _block_parts(block: Tree) -> tuple[str, list[str], Tree]:
    kids = _kids(block)
    return _name(kids[0]), [_name(k) for k in kids[1:-1]], kids[-1]


def _attributes(body: Tree) -> dict[str, Tree]:
    return {_name(_kids(a)[0]): _kids(a)[1] for a in _kids(body) if a.data == "attribute"}


def _blocks(body: Tree) -> list[tuple[str, list[str], Tree]]:
    return [_block_parts(b) for b in _kids(body) if b.data == "block"]


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "coalesce": lambda *args: next(a for a in args if a not in (None, "")),
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
    "concat": lambda *lists: [x for lst in lists for x in lst],
}


def _eval(node: Tree, scope: dict[str, Any]) -> Any:
    """Evaluate the HCL expressions our modules use; anything else fails loudly."""
    kids = _kids(node)
    match node.data:
        case "expr_term" | "interpolation":
            return _eval(kids[0], scope)
        case "identifier":
            return scope[str(node.children[0])]
        case "get_attr_expr_term":
            return _eval(kids[0], scope)[_name(_kids(kids[1])[0])]
        case "int_lit":
            return int(node.children[0])
        case "literal_value":
            return {"true": True, "false": False, "null": None}[str(node.children[0])]
        case "string":
            return "".join(_string_part(p, scope) for p in kids)
        case "tuple":
            return [_eval(k, scope) for k in kids]
        case "object":
            return {_object_key(key, scope): _eval(value, scope) for key, value in map(_kids, kids)}
        case "function_call":
            args = _kids(kids[1]) if len(kids) > 1 else []
            return _FUNCTIONS[_name(kids[0])](*(_eval(a, scope) for a in args))
        case "for_tuple_expr":
            intro, value = kids[0], kids[1]
            *names, collection = _kids(intro)
            (item,) = names
            return [_eval(value, scope | {_name(item): x}) for x in _eval(collection, scope)]
        case "conditional":
            condition, then, otherwise = kids
            return _eval(then if _eval(condition, scope) else otherwise, scope)
        case "binary_op":
            left, (operator, right) = kids[0], _kids(kids[1])
            ops = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b}
            return ops[str(operator.children[0])](_eval(left, scope), _eval(right, scope))
    raise NotImplementedError(f"HCL expression {node.data!r} in the test evaluator")


def _string_part(part: Tree, scope: dict[str, Any]) -> str:
    (child,) = part.children
    if isinstance(child, Tree):
        return str(_eval(child, scope))
    assert isinstance(child, Token)
    if child.type == "ESCAPED_INTERPOLATION":
        return str(child)[1:]
    return json.loads(f'"{child}"')


def _object_key(key: Tree, scope: dict[str, Any]) -> str:
    (term,) = _kids(key)
    (inner,) = _kids(term)
    return _name(inner) if inner.data == "identifier" else _eval(inner, scope)


def _eval_body(body: Tree, scope: dict[str, Any]) -> Block:
    """A block body: attributes evaluated, nested and dynamic blocks expanded into lists."""
    out = Block({name: _eval(expr, scope) for name, expr in _attributes(body).items()})
    for kind, labels, inner in _blocks(body):
        if kind != "dynamic":
            out.setdefault(kind, []).append(_eval_body(inner, scope))
            continue
        (label,) = labels
        items = _eval(_attributes(inner)["for_each"], scope)
        (content,) = [b for k, _, b in _blocks(inner) if k == "content"]
        pairs = items.items() if isinstance(items, dict) else enumerate(items)
        for key, value in pairs:
            iterator = {label: {"key": key, "value": value}}
            out.setdefault(label, []).append(_eval_body(content, scope | iterator))
    return out


def evaluate_module(module_dir: Path, inputs: dict[str, Any]) -> dict[tuple[str, str], Block]:
    """The resources a module declares for these inputs (variable defaults applied)."""
    variables: dict[str, Any] = {}
    for kind, labels, body in _blocks(
        hcl2.parses_to_tree((module_dir / "variables.tf").read_text()).children[0]
    ):
        if kind == "variable" and "default" in _attributes(body):
            variables[labels[0]] = _eval(_attributes(body)["default"], {})
    scope: dict[str, Any] = {"var": variables | inputs, "local": {}}
    main = hcl2.parses_to_tree((module_dir / "main.tf").read_text()).children[0]
    for kind, _, body in _blocks(main):
        if kind == "locals":
            for name, expr in _attributes(body).items():
                scope["local"][name] = _eval(expr, scope)
    return {
        (labels[0], labels[1]): _eval_body(body, scope)
        for kind, labels, body in _blocks(main)
        if kind == "resource"
    }


def module_inputs(workspace: Path, module: str) -> dict[str, Any]:
    """The arguments the rendered root module passes to a module, from its tfvars."""
    tfvars = json.loads((workspace / "terraform.tfvars.json").read_text())
    root = hcl2.parses_to_tree((workspace / "main.tf").read_text()).children[0]
    (body,) = [b for kind, labels, b in _blocks(root) if kind == "module" and labels == [module]]
    arguments = _attributes(body)
    arguments.pop("source")
    return {name: _eval(expr, {"var": tfvars}) for name, expr in arguments.items()}


_LIST_BLOCKS = {"tls": "tls", "rule": "rules", "path": "paths"}


def to_api(block: Block) -> dict[str, Any]:
    """Provider schema (snake_case, blocks as lists) -> Kubernetes API JSON."""
    out: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, list) and value and all(isinstance(v, Block) for v in value):
            if key in _LIST_BLOCKS:
                out[_LIST_BLOCKS[key]] = [to_api(v) for v in value]
                continue
            (value,) = value
            value = to_api(value)
        out[re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)] = value
    return out


def test_ingress_module_declares_the_ingress_and_certificate(tmp_path: Path) -> None:
    spec = client_spec(
        KUBERNETES_ENABLED=True,
        INGRESS_CLASS="nginx",
        CERT_ISSUER="letsencrypt-prod",
        INGRESS_SERVICE_NAME="chatdock-web",
        INGRESS_SERVICE_PORT=8080,
        custom_hosts=(("ZC", "demo.api.example.com"),),
    )
    workspace = render_client_workspace(spec, tmp_path).path
    resources = evaluate_module(
        workspace / "modules" / "ingress", module_inputs(workspace, "ingress")
    )
    assert set(resources) == {
        ("kubernetes_ingress_v1", "this"),
        ("kubernetes_manifest", "certificate"),
    }
    hosts = [f"demo.{ACCOUNT}.{API_DOMAIN}", "demo.api.example.com"]

    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        **to_api(resources["kubernetes_ingress_v1", "this"]),
    }
    with ApiClient() as api:
        ingress = api.deserialize(json.dumps(body), "V1Ingress", "application/json")
        assert api.sanitize_for_serialization(ingress) == body  # every field a real one
    assert isinstance(ingress, V1Ingress)
    assert ingress.metadata.name == f"{ACCOUNT}-demo"
    assert ingress.metadata.namespace == "chatdock"
    assert ingress.metadata.labels["chatdock/account"] == ACCOUNT
    assert ingress.spec.ingress_class_name == "nginx"
    (tls,) = ingress.spec.tls
    assert tls.hosts == hosts
    assert tls.secret_name == spec.tls_secret_name == f"{ACCOUNT}-demo-tls"
    assert [rule.host for rule in ingress.spec.rules] == hosts
    for rule in ingress.spec.rules:
        (path,) = rule.http.paths
        assert (path.path, path.path_type) == ("/", "Prefix")
        assert path.backend.service.name == "chatdock-web"
        assert path.backend.service.port.number == 8080

    certificate = resources["kubernetes_manifest", "certificate"]["manifest"]
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    assert certificate["kind"] == "Certificate"
    assert certificate["metadata"]["name"] == ingress.metadata.name
    assert certificate["metadata"]["namespace"] == "chatdock"
    assert certificate["spec"]["dnsNames"] == hosts
    assert certificate["spec"]["secretName"] == tls.secret_name
    assert certificate["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "letsencrypt-prod",
    }
    assert certificate["spec"]["secretTemplate"]["labels"]["chatdock/client"] == "demo"


def test_ingress_secret_name_defaults_to_name_tls() -> None:
    inputs = {
        "name": "n",
        "namespace": "ns",
        "hosts": ["a.example"],
        "ingress_class": "nginx",
        "cluster_issuer": "ci",
        "service_name": "svc",
        "service_port": 80,
    }
    resources = evaluate_module(MODULES / "ingress", inputs)
    assert resources["kubernetes_ingress_v1", "this"]["spec"][0]["tls"][0]["secret_name"] == "n-tls"
    assert (
        resources["kubernetes_manifest", "certificate"]["manifest"]["spec"]["secretName"] == "n-tls"
    )


# --- end to end: plan against moto -----------------------------------------------------------


def planned_records(workspace: RenderedWorkspace, env: dict[str, str]) -> dict[str, Any]:
    """init + plan -out + show -json: the managed resource changes by address."""
    for args in (
        ("init", *INIT_ARGS),
        ("plan", "-input=false", "-no-color", "-out=run.tfplan"),
    ):
        result = terraform(*args, cwd=workspace.path, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    show = terraform("show", "-json", "run.tfplan", cwd=workspace.path, env=env)
    plan = json.loads(show.stdout)
    keys = ("name", "type", "zone_id", "ttl", "records", "alias", "allow_overwrite")
    return {
        change["address"]: {
            "actions": change["change"]["actions"],
            **{key: change["change"]["after"].get(key) for key in keys},
        }
        for change in plan["resource_changes"]
        if change["mode"] == "managed"
    }


@pytest.fixture(scope="module")
def own_moto() -> Iterator[str]:
    """A moto of this module's own: the plan finds its zone by name, so no other test's
    zone of the same name may exist there."""
    with moto_server() as url:
        yield url


def test_plan_against_moto(tmp_path: Path, tf_env: dict[str, str], own_moto: str) -> None:
    moto_server = own_moto
    aws = {"endpoint_url": moto_server, "region_name": "us-east-1"}
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    route53 = boto3.client("route53", **aws, **credentials)
    zone_ids = {
        name: route53.create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()))[
            "HostedZone"
        ]["Id"].removeprefix("/hostedzone/")
        for name in (API_DOMAIN, CUSTOM_DOMAIN)
    }
    s3 = boto3.client("s3", **aws, **credentials)
    s3.create_bucket(Bucket="chatdock-state")

    # Mode a, zone found by name, state in S3 (with a lock file); a custom-domain host.
    plain = render_client_workspace(
        client_spec(
            AWS_ENDPOINT_URL=moto_server,
            TF_STATE_BACKEND="s3",
            TF_STATE_BUCKET="chatdock-state",
            INGRESS_IPS="192.0.2.10,192.0.2.11",
            custom_hosts=((zone_ids[CUSTOM_DOMAIN], f"demo.{CUSTOM_DOMAIN}"),),
        ),
        tmp_path,
    )
    # Mode alias, zone given by id, local state.
    alias = render_client_workspace(
        client_spec(
            "edge",
            AWS_ENDPOINT_URL=moto_server,
            ROUTE53_ZONE_ID=zone_ids[API_DOMAIN],
            DNS_RECORD_MODE="alias",
            INGRESS_LB_DNS_NAME="ingress-1.elb.us-east-1.amazonaws.com",
            INGRESS_LB_ZONE_ID="Z35SXDOTRQ7X7K",
        ),
        tmp_path,
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        plain_plan, alias_plan = pool.map(lambda w: planned_records(w, tf_env), (plain, alias))

    a_record = {
        "actions": ["create"],
        "type": "A",
        "ttl": 300,
        "alias": [],
        "allow_overwrite": False,
    }
    a_record["records"] = ["192.0.2.10", "192.0.2.11"]
    assert plain_plan == {
        "module.client_dns.aws_route53_record.default": a_record
        | {"name": f"demo.{ACCOUNT}.{API_DOMAIN}", "zone_id": zone_ids[API_DOMAIN]},
        f'module.client_dns.aws_route53_record.custom["demo.{CUSTOM_DOMAIN}"]': a_record
        | {"name": f"demo.{CUSTOM_DOMAIN}", "zone_id": zone_ids[CUSTOM_DOMAIN]},
    }
    assert alias_plan == {
        "module.client_dns.aws_route53_record.default": {
            "actions": ["create"],
            "name": f"edge.{ACCOUNT}.{API_DOMAIN}",
            "type": "A",
            "zone_id": zone_ids[API_DOMAIN],
            "ttl": None,
            "records": None,
            "alias": [
                {
                    "name": "ingress-1.elb.us-east-1.amazonaws.com",
                    "zone_id": "Z35SXDOTRQ7X7K",
                    "evaluate_target_health": False,
                }
            ],
            "allow_overwrite": False,
        }
    }
    # The S3 lock was taken and released; a plan writes no state.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="chatdock-state").get("Contents", [])]
    assert keys == []
    assert workspace_config_hash(plain.path) == plain.config_hash
