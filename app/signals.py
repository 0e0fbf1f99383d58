"""Lifecycle signals (blinker). Every infrastructure job sends ``pre_<job>`` before it
starts its work and ``post_<job>`` after it ends, on every path (with the run), so other
parts can react (notify, audit, clean up) without the jobs knowing them."""

from __future__ import annotations

from blinker import NamedSignal, Namespace

_signals = Namespace()

pre_deploy_default_api = _signals.signal("pre_deploy_default_api")
post_deploy_default_api = _signals.signal("post_deploy_default_api")
pre_undeploy_default_api = _signals.signal("pre_undeploy_default_api")
post_undeploy_default_api = _signals.signal("post_undeploy_default_api")
pre_delete_default_api = _signals.signal("pre_delete_default_api")
post_delete_default_api = _signals.signal("post_delete_default_api")
pre_provision_domain = _signals.signal("pre_provision_domain")
post_provision_domain = _signals.signal("post_provision_domain")
pre_destroy_domain = _signals.signal("pre_destroy_domain")
post_destroy_domain = _signals.signal("post_destroy_domain")
pre_verify_domain = _signals.signal("pre_verify_domain")
post_verify_domain = _signals.signal("post_verify_domain")
pre_apply_run = _signals.signal("pre_apply_run")
post_apply_run = _signals.signal("post_apply_run")
pre_routing_run = _signals.signal("pre_routing_run")
post_routing_run = _signals.signal("post_routing_run")


def pre(job_name: str) -> NamedSignal:
    return _signals.signal(f"pre_{job_name}")


def post(job_name: str) -> NamedSignal:
    return _signals.signal(f"post_{job_name}")
