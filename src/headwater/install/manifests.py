"""One installation as an ordered list of objects, and its multi-document YAML.

The order is kustomize's legacy order that Flux's `install.yaml` follows: Namespace, ResourceQuota, CRDs,
ServiceAccounts, ClusterRoles, ClusterRoleBindings, Services, Deployments, then NetworkPolicies. The YAML
is deterministic (sorted keys) so that `bootstrap` can tell whether a committed `gotk-components.yaml`
is up to date by comparing text.
"""

from __future__ import annotations

from typing import Any

import yaml

from headwater.install.components import deployment, service, service_account
from headwater.install.crds import crds
from headwater.install.options import InstallOptions
from headwater.install.policies import namespace, network_policies, resource_quota
from headwater.install.rbac import cluster_role_bindings, cluster_roles


def generate(opts: InstallOptions) -> list[dict[str, Any]]:
    """Every object of the installation, in apply order; InstallError on invalid options."""
    opts.validate()
    components = opts.selected()
    notification = any(c.name == "notification-controller" for c in components)
    services = [s for s in (service(opts, c) for c in components) if s is not None]
    return [
        namespace(opts),
        resource_quota(opts),
        *crds(opts, components),
        *(service_account(opts, c) for c in components),
        *cluster_roles(opts),
        *cluster_role_bindings(opts, components),
        *services,
        *(deployment(opts, c, notification) for c in components),
        *network_policies(opts),
    ]


def header(opts: InstallOptions) -> str:
    names = ",".join(c.name for c in opts.selected())
    return f"---\n# headwater version: {opts.version_label}\n# Components: {names}\n"


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML, each document introduced by `---`."""
    return "".join("---\n" + yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=1 << 16)
                   for obj in objects)


def render(opts: InstallOptions) -> str:
    """What `install --export` prints and `bootstrap` commits as gotk-components.yaml."""
    objects = generate(opts)
    return header(opts) + to_yaml(objects)[len("---\n"):]
