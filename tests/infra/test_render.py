"""Workspace rendering and the Terraform modules behind it.

Rendering must be deterministic (the config hash decides whether a saved plan is still
valid), the rendered files ``terraform fmt`` clean, and the workspaces must init (offline,
from the plugin mirror) and validate. The ingress module cannot be validated here (no
Kubernetes provider): the objects it applies are JSON files of the workspace, validated
against the real schemas in ``test_client_objects.py``. One plan against a real moto
server checks the records end to end.
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
import pytest

from app.config import Settings
from app.infra.render import (
    TERRAFORM_DIR,
    ClientWorkspaceSpec,
    DomainWorkspaceSpec,
    RenderedWorkspace,
    hcl_string,
    render_client_workspace,
    render_domain_workspace,
)
from app.infra.terraform import TerraformRunner
from app.infra.workspace_files import config_hash, config_paths
from devtools.services import moto_server

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


def workspace_config_hash(path: Path) -> str:
    """The config hash of what is on disk now (equals the render's unless someone edited)."""
    return config_hash({rel: (path / rel).read_bytes() for rel in config_paths(path)})


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
    assert (path / "modules" / "kubernetes_objects" / "main.tf").is_file()
    assert [p.name for p in path.glob("*.k8s.json")] == ["route.k8s.json"]
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
    assert not (path / "modules" / "kubernetes_objects").exists()
    assert not list(path.glob("*.k8s.json"))
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
    assert spec.route_name == f"{ACCOUNT}-demo"

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
        "allow_overwrite": True,  # an apply cut short converges on the next one
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
            "allow_overwrite": True,  # an apply cut short converges on the next one
        }
    }
    # The S3 lock was taken and released; a plan writes no state.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="chatdock-state").get("Contents", [])]
    assert keys == []
    assert workspace_config_hash(plain.path) == plain.config_hash
