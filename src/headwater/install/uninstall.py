"""Removing an installation without touching what it reconciled (Flux's `uninstall` order).

1. The controllers go first (Deployments, Services, NetworkPolicies, ServiceAccounts, then the cluster
   roles and bindings, all found by the `app.kubernetes.io/part-of: flux` label; cluster-wide ones also
   by this installation's `app.kubernetes.io/instance`), so nothing acts on what follows.
2. Finalizers are stripped from every Flux custom resource in every namespace: with no controller to
   honour them they would block deletion, and honouring them would prune the user's workloads.
3. The CRDs are deleted, and the custom resources with them.
4. The namespace, unless kept.

Every step reports one line per object (`✔ Deployment/flux-system/source-controller deleted`) and goes
on after a failure (reported with `✗`), as Flux does; `dry_run` asks the apiserver to validate only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.install.cluster import Report
from headwater.install.options import INSTANCE_LABEL, PART_OF_LABEL, PART_OF_VALUE

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

SELECTOR = f"{PART_OF_LABEL}={PART_OF_VALUE}"
CRD_API = "apiextensions.k8s.io/v1"

NAMESPACED = (("apps/v1", "Deployment"), ("v1", "Service"), ("networking.k8s.io/v1", "NetworkPolicy"),
              ("v1", "ServiceAccount"))
CLUSTER = (("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"))


def _suffix(dry_run: bool) -> str:
    return " (dry run)" if dry_run else ""


async def delete_components(client: KubeClient, namespace: str, dry_run: bool, report: Report) -> None:
    from headwater.runtime.kube import KubeError

    for api_version, kind in (*NAMESPACED, *CLUSTER):
        scope = namespace if (api_version, kind) in NAMESPACED else None
        # Cluster-wide objects also by instance: another namespace's installation keeps its RBAC.
        selector = SELECTOR if scope else f"{SELECTOR},{INSTANCE_LABEL}={namespace}"
        items, _ = await client.list_all(api_version, kind, scope, label_selector=selector)
        for item in items:
            meta = item["metadata"]
            subject = f"{kind}/{meta['namespace']}/{meta['name']}" if scope else f"{kind}/{meta['name']}"
            try:
                await client.delete(api_version, kind, meta["name"], scope, dry_run=dry_run)
            except KubeError as err:
                report("✗", f"{subject} deletion failed: {err}")
                continue
            report("✔", f"{subject} deleted{_suffix(dry_run)}")


async def flux_crds(client: KubeClient) -> list[dict[str, object]]:
    items, _ = await client.list_all(CRD_API, "CustomResourceDefinition", label_selector=SELECTOR)
    return [crd for crd in items if str(crd["spec"]["group"]).endswith(".fluxcd.io")]


async def remove_finalizers(client: KubeClient, dry_run: bool, report: Report) -> None:
    from headwater.runtime.kube import KubeError

    for crd in await flux_crds(client):
        spec: dict[str, object] = crd["spec"]  # type: ignore[assignment]
        served = [v for v in spec["versions"] if v.get("served")]  # type: ignore[attr-defined]
        if not served:
            continue
        api_version = f"{spec['group']}/{served[-1]['name']}"
        kind = str(spec["names"]["kind"])  # type: ignore[index]
        try:
            items, _ = await client.list_all(api_version, kind)
        except KubeError as err:
            report("✗", f"listing {kind} objects failed: {err}")
            continue
        for item in items:
            meta = item["metadata"]
            subject = f"{kind}/{meta.get('namespace', '')}/{meta['name']}"
            if not meta.get("finalizers"):
                continue
            try:
                if not dry_run:
                    await client.patch(api_version, kind, meta["name"], {"metadata": {"finalizers": None}},
                                       namespace=meta.get("namespace"))
            except KubeError as err:
                report("✗", f"{subject} removing finalizers failed: {err}")
                continue
            report("✔", f"{subject} finalizers deleted{_suffix(dry_run)}")


async def delete_crds(client: KubeClient, dry_run: bool, report: Report) -> None:
    from headwater.runtime.kube import KubeError

    for crd in await flux_crds(client):
        name = str(crd["metadata"]["name"])  # type: ignore[index]
        try:
            await client.delete(CRD_API, "CustomResourceDefinition", name, dry_run=dry_run)
        except KubeError as err:
            report("✗", f"CustomResourceDefinition/{name} deletion failed: {err}")
            continue
        report("✔", f"CustomResourceDefinition/{name} deleted{_suffix(dry_run)}")


async def delete_namespace(client: KubeClient, namespace: str, dry_run: bool, report: Report) -> None:
    from headwater.runtime.kube import KubeError

    try:
        gone = await client.delete("v1", "Namespace", namespace, dry_run=dry_run)
    except KubeError as err:
        report("✗", f"Namespace/{namespace} deletion failed: {err}")
        return
    if gone is None:
        report("✔", f"Namespace/{namespace} not found")
    else:
        report("✔", f"Namespace/{namespace} deleted{_suffix(dry_run)}")


async def uninstall(client: KubeClient, namespace: str, *, keep_namespace: bool, dry_run: bool,
                    report: Report) -> None:
    report("►", f"deleting components in {namespace} namespace")
    await delete_components(client, namespace, dry_run, report)
    report("►", "deleting toolkit.fluxcd.io finalizers in all namespaces")
    await remove_finalizers(client, dry_run, report)
    report("►", "deleting toolkit.fluxcd.io custom resource definitions")
    await delete_crds(client, dry_run, report)
    if not keep_namespace:
        await delete_namespace(client, namespace, dry_run, report)
    report("✔", "uninstall finished")
