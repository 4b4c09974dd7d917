"""Tenant attacks against a locked-down control plane: each one is refused, precisely, and applies nothing.

The module runs one source + kustomize controller pair with Flux's multi-tenancy lockdown
(`--no-cross-namespace-refs`, `--no-remote-bases`, `--default-service-account=default`,
`--default-kubeconfig-service-account=default`). Each test's namespace is a tenant as in Flux's
multi-tenancy setup: a ServiceAccount `tenant` bound to the `admin` ClusterRole in its own namespace
only. A second tenant (`victim`) owns a GitRepository and a namespace the attacker must not reach.

The session controllers leave these objects alone: Kustomizations carry `headwater.dev/isolated` (the
session kustomize controller ignores them) and GitRepositories `headwater.dev/isolated-source` (the
session source controller ignores those).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder, Symlink
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.devcluster.ports import PortAllocator
from headwater.kustomize.spec import SPEC as KUSTOMIZE_SPEC
from headwater.kustomize.spec import KustomizeFlags
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from headwater.runtime.manager import Manager
from headwater.runtime.options import ControllerOptions
from headwater.source.spec import SPEC as SOURCE_SPEC
from headwater.source.spec import SourceFlags
from tests.cluster.test_kustomization import KS_API, SRC_API
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster

ISOLATED = "headwater.dev/isolated"
ISOLATED_SOURCE = "headwater.dev/isolated-source"
RBAC = "rbac.authorization.k8s.io/v1"
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n"
PASSWD_LINE = Path("/etc/passwd").read_text().splitlines()[0]


@dataclass(frozen=True)
class Lockdown:
    labels: dict[str, str]
    storage: Path


@pytest.fixture(scope="module")
async def lockdown(kube: KubeClient, flux_crds: list[str],
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Lockdown]:
    """The locked-down source + kustomize controllers, reconciling only the objects with `labels`."""
    token = secrets.token_hex(4)
    labels = {ISOLATED: token, ISOLATED_SOURCE: token}
    port = PortAllocator().allocate()
    storage = tmp_path_factory.mktemp("lockdown-storage")
    common = {"metrics_addr": "0", "health_addr": "0", "min_retry_delay": 0.5, "max_retry_delay": 5.0,
              "no_cross_namespace_refs": True}
    source_options = ControllerOptions(concurrent=2, watch_label_selector=f"{ISOLATED_SOURCE}={token}", **common)
    source = Manager("source-controller", kube, source_options)
    await SOURCE_SPEC.install(source, source_options, SourceFlags(
        storage_path=str(storage), storage_addr=f"127.0.0.1:{port}", storage_adv_addr=f"127.0.0.1:{port}"))
    ks_options = ControllerOptions(concurrent=4, watch_label_selector=f"{ISOLATED}={token}",
                                   default_service_account="default", **common)
    kustomize = Manager("kustomize-controller", kube, ks_options)
    await KUSTOMIZE_SPEC.install(kustomize, ks_options, KustomizeFlags(
        no_remote_bases=True, default_kubeconfig_service_account="default"))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(source.run(stop)), asyncio.create_task(kustomize.run(stop))]
    try:
        await asyncio.wait_for(asyncio.gather(source.leading.wait(), kustomize.leading.wait()), 30)
        yield Lockdown(labels, storage)
    finally:
        selector = f"{ISOLATED}={token}"
        for obj in (await kube.list(KS_API, "Kustomization", None, label_selector=selector))["items"]:
            await kube.delete(KS_API, "Kustomization", obj["metadata"]["name"], obj["metadata"]["namespace"])

        async def finalized() -> bool:
            return not (await kube.list(KS_API, "Kustomization", None, label_selector=selector))["items"]

        await wait_for(finalized, "the tenants' Kustomizations to be finalized", timeout=30)
        stop.set()
        await asyncio.gather(*tasks)


@pytest.fixture(autouse=True)
async def _finalize_kustomizations(kube: KubeClient, lockdown: Lockdown, namespace: str) -> AsyncIterator[None]:
    """Delete the test's Kustomizations while its tenant still exists (its ServiceAccount prunes)."""
    yield
    selector = f"{ISOLATED}={lockdown.labels[ISOLATED]}"
    for obj in (await kube.list(KS_API, "Kustomization", namespace, label_selector=selector))["items"]:
        await kube.delete(KS_API, "Kustomization", obj["metadata"]["name"], namespace)

    async def gone() -> bool:
        return not (await kube.list(KS_API, "Kustomization", namespace, label_selector=selector))["items"]

    await wait_for(gone, f"the Kustomizations of {namespace} to be finalized", timeout=30)


async def make_tenant(kube: KubeClient, namespace: str, account: str = "tenant") -> None:
    """Flux's tenant: a ServiceAccount with the `admin` ClusterRole in its own namespace only."""
    await kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": account, "namespace": namespace}})
    await kube.create({"apiVersion": RBAC, "kind": "RoleBinding",
                       "metadata": {"name": f"{account}-admin", "namespace": namespace},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                       "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]})


@pytest.fixture
async def tenant(kube: KubeClient, namespace: str) -> str:
    await make_tenant(kube, namespace)
    return namespace


@pytest.fixture
async def victim(kube: KubeClient, namespace: str) -> AsyncIterator[str]:
    """Another tenant's namespace."""
    name = f"{namespace[:50]}-b"
    await kube.create({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": name, "labels": {"headwater.dev/test": "true"}}})
    await make_tenant(kube, name)
    yield name
    await kube.delete("v1", "Namespace", name)


async def git_source(kube: KubeClient, lockdown: Lockdown, namespace: str, url: str, revision: str) -> dict[str, Any]:
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace, "labels": lockdown.labels},
                       "spec": {"url": url, "interval": "10m", "ref": {"branch": "main"}}})

    async def probe() -> dict[str, Any] | None:
        obj = await kube.get(SRC_API, "GitRepository", "repo", namespace)
        artifact = (obj.get("status") or {}).get("artifact") or {}
        return obj if artifact.get("revision") == revision else None

    return await wait_for(probe, f"GitRepository {namespace}/repo to have an artifact of {revision}")


async def tenant_repo(kube: KubeClient, lockdown: Lockdown, namespace: str, repo_builder: RepoBuilder,
                      git_http: GitHttpServer, name: str, files: dict[str, Any]) -> str:
    repo = repo_builder.create(name, files)
    revision = f"main@sha1:{repo.head('main')}"
    await git_source(kube, lockdown, namespace, git_http.url(name), revision)
    return revision


def tenant_kustomization(lockdown: Lockdown, name: str, namespace: str, path: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": KS_API, "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(lockdown.labels)},
            "spec": {"interval": "10m", "path": path, "prune": True, "serviceAccountName": "tenant",
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}, **spec}}


async def refused(kube: KubeClient, namespace: str, name: str, reason: str, timeout: float = 30) -> str:
    """Wait for Ready=False with `reason` and return its message."""
    async def probe() -> dict[str, Any] | None:
        obj = await kube.get(KS_API, "Kustomization", name, namespace)
        conds = (obj.get("status") or {}).get("conditions") or []
        return obj if cond.is_false(conds, "Ready") and cond.get_reason(conds, "Ready") == reason else None

    async def last_state() -> str:
        obj = await kube.get(KS_API, "Kustomization", name, namespace)
        return repr((obj.get("status") or {}).get("conditions"))

    try:
        obj = await wait_for(probe, f"Kustomization {namespace}/{name} Ready=False {reason}", timeout=timeout)
    except AssertionError as err:
        raise AssertionError(f"{err}; conditions: {await last_state()}") from err
    status = obj["status"]
    assert not (status.get("inventory") or {}).get("entries"), status.get("inventory")
    assert not status.get("lastAppliedRevision"), status
    return cond.get_message(status["conditions"], "Ready")


async def config_maps_holding(kube: KubeClient, needle: str) -> list[str]:
    """Every ConfigMap in the cluster whose data contains `needle`."""
    found = []
    for cm in (await kube.list("v1", "ConfigMap", None))["items"]:
        if any(needle in str(v) for v in (cm.get("data") or {}).values()):
            found.append(f"{cm['metadata']['namespace']}/{cm['metadata']['name']}")
    return found


# -- cross-namespace references ----------------------------------------------------------------------------


async def test_a_source_ref_to_another_tenants_repository_is_denied(
    kube: KubeClient, lockdown: Lockdown, tenant: str, victim: str, repo_builder: RepoBuilder,
    git_http: GitHttpServer, repo_name: str,
) -> None:
    await tenant_repo(kube, lockdown, victim, repo_builder, git_http, repo_name, {"app/cfg.yaml": CONFIG})
    attack = tenant_kustomization(lockdown, "steal", tenant, "./app", targetNamespace=tenant)
    attack["spec"]["sourceRef"]["namespace"] = victim
    await kube.create(attack)
    message = await refused(kube, tenant, "steal", "AccessDenied")
    assert f"GitRepository/{victim}/repo" in message, message
    assert "cross-namespace references" in message, message
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", tenant) is None


# -- remote bases -------------------------------------------------------------------------------------------


REMOTE_BASES = {
    "https": "https://github.com/example/repo//base?ref=v1.0.0",
    "http": "http://example.com/base.yaml",
    "ssh": "ssh://git@example.com/example/repo.git//base",
    "git-getter": "git::https://example.com/example/repo.git//base?ref=main",
    "scp-like": "git@github.com:example/repo.git//base",
    "host-path": "github.com/example/repo/base",
    "file-url": "file://{victim_repo}",
    "ref-query": "example.com/org/repo//base?ref=main",
}


@pytest.mark.parametrize("form", sorted(REMOTE_BASES))
async def test_remote_bases_are_refused_in_every_url_form(
    kube: KubeClient, lockdown: Lockdown, tenant: str, repo_builder: RepoBuilder, git_http: GitHttpServer,
    repo_name: str, form: str,
) -> None:
    # the file:// form names another repository on the controller's disk (another tenant's Git repo)
    victim_repo = repo_builder.create(f"{repo_name}-victim", {"base/cfg.yaml": CONFIG,
                                                             "base/kustomization.yaml": "resources: [cfg.yaml]\n"})
    base = REMOTE_BASES[form].format(victim_repo=victim_repo.path)
    kustomization = f"resources:\n- local.yaml\n- {base}\n"
    local = CONFIG.replace("name: cfg", "name: local")
    await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name,
                      {"app/kustomization.yaml": kustomization, "app/local.yaml": local})
    await kube.create(tenant_kustomization(lockdown, "remote", tenant, "./app", targetNamespace=tenant))
    message = await refused(kube, tenant, "remote", "BuildFailed")
    assert "app/kustomization.yaml" in message, message
    assert base in message, message
    assert "--no-remote-bases" in message, message
    assert await kube.get_or_none("v1", "ConfigMap", "local", tenant) is None
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", tenant) is None


# -- file escapes -------------------------------------------------------------------------------------------

GENERATOR = "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: stolen}\nfiles: [k=/etc/passwd]\n"
INLINE = "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: stolen}\n" \
         "  files: [k=/etc/passwd]\n"

#: case → (files of the repository, file and value the refusal must name)
ESCAPES: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "generator-files-absolute": (
        {"app/kustomization.yaml": "configMapGenerator:\n- name: stolen\n  files: [k=/etc/passwd]\n"},
        ("app/kustomization.yaml", "/etc/passwd")),
    "generator-files-dotdot": (
        {"app/kustomization.yaml": "configMapGenerator:\n- name: stolen\n  files: [k=../../../../../../etc/passwd]\n"},
        ("app/kustomization.yaml", "etc/passwd")),
    "generator-envs-absolute": (
        {"app/kustomization.yaml": "configMapGenerator:\n- name: stolen\n  envs: [/etc/passwd]\n"},
        ("app/kustomization.yaml", "/etc/passwd")),
    "generators-file": (
        {"app/kustomization.yaml": "generators: [gen.yaml]\n", "app/gen.yaml": GENERATOR},
        ("app/gen.yaml", "/etc/passwd")),
    "generators-inline": (
        {"app/kustomization.yaml": INLINE}, ("app/kustomization.yaml", "/etc/passwd")),
    "resources-dotdot": (
        {"app/kustomization.yaml": "resources: [../../../../../../etc]\n"},
        ("app/kustomization.yaml", "../../../../../../etc")),
    "patches-path-dotdot": (
        {"app/kustomization.yaml": "resources: [cfg.yaml]\npatches:\n- path: ../../../../../../etc/passwd\n",
         "app/cfg.yaml": CONFIG},
        ("app/kustomization.yaml", "../../../../../../etc/passwd")),
    "symlink-absolute": (
        {"app/kustomization.yaml": "configMapGenerator:\n- name: stolen\n  files: [k=passwd]\n",
         "app/passwd": Symlink("/etc/passwd")},
        ("app/passwd", "k=passwd")),
    "symlink-other-tenant-artifacts": (
        {"app/kustomization.yaml": "configMapGenerator:\n- name: stolen\n  files: [k=loot]\n",
         "app/loot": Symlink("{storage}/gitrepository")},
        ("app/loot", "k=loot")),
}


@pytest.mark.parametrize("case", list(ESCAPES))
async def test_files_outside_the_artifact_are_refused(
    kube: KubeClient, lockdown: Lockdown, tenant: str, victim: str, repo_builder: RepoBuilder,
    git_http: GitHttpServer, repo_name: str, case: str,
) -> None:
    # another tenant's artifact is in the controller's storage while the attack runs
    await tenant_repo(kube, lockdown, victim, repo_builder, git_http, f"{repo_name}-victim", {"app/cfg.yaml": CONFIG})
    files, (where, what) = ESCAPES[case]
    files = {path: Symlink(c.target.format(storage=lockdown.storage)) if isinstance(c, Symlink) else c
             for path, c in files.items()}
    await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name, files)
    await kube.create(tenant_kustomization(lockdown, "escape", tenant, "./app", targetNamespace=tenant))
    message = await refused(kube, tenant, "escape", "BuildFailed")
    assert where in message, message
    assert what in message, message
    assert PASSWD_LINE not in message, "the refusal must not quote the file"
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", tenant) is None
    applied = await kube.list("v1", "ConfigMap", tenant, label_selector="kustomize.toolkit.fluxcd.io/name")
    assert applied["items"] == []
    assert await config_maps_holding(kube, PASSWD_LINE) == []


# -- RBAC through impersonation ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ClusterRole", "ClusterRoleBinding"])
async def test_cluster_scoped_rbac_objects_are_forbidden(
    kube: KubeClient, lockdown: Lockdown, tenant: str, repo_builder: RepoBuilder, git_http: GitHttpServer,
    repo_name: str, kind: str,
) -> None:
    name = f"{tenant}-escalate"
    objects = {
        "ClusterRole": f"apiVersion: {RBAC}\nkind: ClusterRole\nmetadata: {{name: {name}}}\n"
                       "rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n",
        "ClusterRoleBinding": f"apiVersion: {RBAC}\nkind: ClusterRoleBinding\nmetadata: {{name: {name}}}\n"
                              "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
                              f"subjects: [{{kind: ServiceAccount, name: tenant, namespace: {tenant}}}]\n",
    }
    await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name,
                      {"app/escalate.yaml": objects[kind], "app/cfg.yaml": CONFIG})
    await kube.create(tenant_kustomization(lockdown, "escalate", tenant, "./app", targetNamespace=tenant))
    message = await refused(kube, tenant, "escalate", "ReconciliationFailed")
    assert f"{kind}/{name}" in message, message
    assert "forbidden" in message.lower(), message
    assert f"system:serviceaccount:{tenant}:tenant" in message, message
    assert await kube.get_or_none(RBAC, kind, name) is None
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", tenant) is None


#: case → (serviceAccountName, what the refusal says)
SERVICE_ACCOUNTS = {
    "missing": ("no-such-account", "system:serviceaccount:{tenant}:no-such-account"),
    "dotdot": ("../kube-system", 'invalid spec.serviceAccountName "../kube-system"'),
    "other-namespace": ("kube-system:default", 'invalid spec.serviceAccountName "kube-system:default"'),
    "header-injection": ("tenant\r\nImpersonate-Group: system:masters",
                         'invalid spec.serviceAccountName "tenant\\r\\nImpersonate-Group'),
}


@pytest.mark.parametrize("case", list(SERVICE_ACCOUNTS))
async def test_a_service_account_name_cannot_widen_the_identity(
    kube: KubeClient, lockdown: Lockdown, tenant: str, repo_builder: RepoBuilder, git_http: GitHttpServer,
    repo_name: str, case: str,
) -> None:
    account, expected = SERVICE_ACCOUNTS[case]
    await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name, {"app/cfg.yaml": CONFIG})
    await kube.create(tenant_kustomization(lockdown, "widen", tenant, "./app", targetNamespace=tenant,
                                           serviceAccountName=account))
    message = await refused(kube, tenant, "widen", "ReconciliationFailed")
    assert expected.format(tenant=tenant) in message, message
    if case == "missing":
        assert f"ConfigMap/{tenant}/cfg" in message, message
        assert "forbidden" in message.lower(), message
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", tenant) is None


async def test_without_a_service_account_name_the_default_one_is_impersonated(
    kube: KubeClient, lockdown: Lockdown, tenant: str, victim: str, repo_builder: RepoBuilder,
    git_http: GitHttpServer, repo_name: str,
) -> None:
    # the tenant's default ServiceAccount may write its own namespace, and only that
    await kube.create({"apiVersion": RBAC, "kind": "RoleBinding",
                       "metadata": {"name": "default-admin", "namespace": tenant},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                       "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": tenant}]})
    revision = await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name, {"app/cfg.yaml": CONFIG})
    own = tenant_kustomization(lockdown, "own", tenant, "./app", targetNamespace=tenant)
    del own["spec"]["serviceAccountName"]
    other = tenant_kustomization(lockdown, "other", tenant, "./app", targetNamespace=victim)
    del other["spec"]["serviceAccountName"]
    await kube.create(own)
    await kube.create(other)
    message = await refused(kube, tenant, "other", "ReconciliationFailed")
    assert f"system:serviceaccount:{tenant}:default" in message, message
    assert f"ConfigMap/{victim}/cfg" in message, message
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", victim) is None

    async def applied() -> bool:
        obj = await kube.get(KS_API, "Kustomization", "own", tenant)
        return (obj.get("status") or {}).get("lastAppliedRevision") == revision

    await wait_for(applied, "the default ServiceAccount to apply into its own namespace")
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", tenant) is not None


# -- another tenant's namespace ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["metadata.namespace", "spec.targetNamespace"])
async def test_writing_into_another_tenants_namespace_is_refused(
    kube: KubeClient, lockdown: Lockdown, tenant: str, victim: str, repo_builder: RepoBuilder,
    git_http: GitHttpServer, repo_name: str, how: str,
) -> None:
    planted = CONFIG.replace("name: cfg", f"name: cfg, namespace: {victim}")
    files = {"app/cfg.yaml": planted if how == "metadata.namespace" else CONFIG}
    await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name, files)
    spec = {"targetNamespace": victim} if how == "spec.targetNamespace" else {}
    await kube.create(tenant_kustomization(lockdown, "invade", tenant, "./app", **spec))
    message = await refused(kube, tenant, "invade", "ReconciliationFailed")
    assert f"ConfigMap/{victim}/cfg" in message, message
    assert "forbidden" in message.lower(), message
    assert f"system:serviceaccount:{tenant}:tenant" in message, message
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", victim) is None


# -- kubeConfig ---------------------------------------------------------------------------------------------


async def test_a_kubeconfig_secret_still_impersonates_the_default_service_account(
    kube: KubeClient, lockdown: Lockdown, tenant: str, repo_builder: RepoBuilder, git_http: GitHttpServer,
    repo_name: str, cluster_info: ClusterInfo,
) -> None:
    """Flux: with `spec.kubeConfig.secretRef`, the (default) service account is impersonated in the
    cluster the kubeconfig names; even a cluster-admin kubeconfig cannot lift the lockdown.
    `--default-kubeconfig-service-account` only concerns the secret-less `configMapRef`."""
    name = f"{tenant}-escalate"
    role = f"apiVersion: {RBAC}\nkind: ClusterRole\nmetadata: {{name: {name}}}\nrules: []\n"
    await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name, {"app/role.yaml": role})
    await kube.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "admin-kubeconfig", "namespace": tenant},
                       "data": {"value": base64.b64encode(cluster_info.kubeconfig.read_bytes()).decode()}})
    attack = tenant_kustomization(lockdown, "remote", tenant, "./app",
                                  kubeConfig={"secretRef": {"name": "admin-kubeconfig"}})
    del attack["spec"]["serviceAccountName"]
    await kube.create(attack)
    message = await refused(kube, tenant, "remote", "ReconciliationFailed")
    assert f"ClusterRole/{name}" in message, message
    assert f"system:serviceaccount:{tenant}:default" in message, message
    assert await kube.get_or_none(RBAC, "ClusterRole", name) is None


async def test_a_secret_less_kubeconfig_is_refused_not_applied_locally(
    kube: KubeClient, lockdown: Lockdown, tenant: str, repo_builder: RepoBuilder, git_http: GitHttpServer,
    repo_name: str,
) -> None:
    await tenant_repo(kube, lockdown, tenant, repo_builder, git_http, repo_name, {"app/cfg.yaml": CONFIG})
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster", "namespace": tenant},
                       "data": {"provider": "generic", "address": "https://127.0.0.1:1"}})
    await kube.create(tenant_kustomization(lockdown, "remote", tenant, "./app", targetNamespace=tenant,
                                           kubeConfig={"configMapRef": {"name": "cluster"}}))
    message = await refused(kube, tenant, "remote", "ReconciliationFailed")
    assert "spec.kubeConfig.configMapRef" in message, message
    assert await kube.get_or_none("v1", "ConfigMap", "cfg", tenant) is None
