"""`headwater create source git|kustomization|secret …` as a subprocess against the local cluster.

Real Git servers (http-backend, sshd) and the in-process controllers: the objects the CLI applies must
become Ready, the SSH paths must collect the real server's host keys, and no secret value may appear
in the CLI's output.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.devcluster.cluster import ClusterInfo
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.devcluster.gitserver_ssh import GitSshServer
from headwater.runtime.kube import KubeClient
from tests.kubeconfigs import unreachable_kubeconfig
from tests.secrets_scan import PlantSecret, record_cli_output

pytestmark = pytest.mark.cluster

SRC_API = "source.toolkit.fluxcd.io/v1"
KS_API = "kustomize.toolkit.fluxcd.io/v1"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n"


@dataclass
class Result:
    rc: int
    out: str
    err: str


async def cli(kubeconfig: Path | str, *args: str, stdin: str | None = None, timeout: float = 90) -> Result:
    """The CLI as a user runs it (asyncio subprocess: the controllers run in this process)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "FLUX_SYSTEM_NAMESPACE")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headwater.cli.main", *args, "--kubeconfig", str(kubeconfig),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else b""), timeout)
    assert proc.returncode is not None
    result = Result(proc.returncode, out.decode(), err.decode())
    record_cli_output(args, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    return result


def one_error_line(result: Result, *needles: str) -> None:
    assert result.rc == 1, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith("✗ "), result.err
    for needle in needles:
        assert needle in lines[-1], (needle, result.err)


def decoded(secret: dict[str, object]) -> dict[str, str]:
    data = secret.get("data") or {}
    assert isinstance(data, dict)
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


@pytest.mark.usefixtures("kustomize_controller")
async def test_create_source_and_kustomization_over_http(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, repo_builder: RepoBuilder,
    git_http: GitHttpServer, repo_name: str,
) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    repo = repo_builder.create(repo_name, {"apps/settings.yaml": CONFIGMAP})
    revision = f"main@sha1:{repo.head('main')}"

    made = await cli(kc, "create", "source", "git", "repo", "--url", git_http.url(repo_name), "--branch", "main",
                     "--label", "team=a", "-n", ns, "--timeout", "60s")
    assert made.rc == 0, made.err
    assert made.err.splitlines() == [
        "✚ generating GitRepository source", "► applying GitRepository source", "✔ GitRepository source created",
        "◎ waiting for GitRepository source reconciliation", "✔ GitRepository source reconciliation completed",
        f"✔ fetched revision: {revision}"]
    source = await kube.get(SRC_API, "GitRepository", "repo", ns)
    assert source["spec"]["ref"] == {"branch": "main"}
    assert source["metadata"]["labels"] == {"team": "a"}
    assert "secretRef" not in source["spec"], "no credentials given: no Secret"

    again = await cli(kc, "create", "source", "git", "repo", "--url", git_http.url(repo_name), "--branch", "main",
                      "--interval", "5m", "-n", ns, "--timeout", "60s")
    assert again.rc == 0, again.err
    assert "✔ GitRepository source updated" in again.err
    assert (await kube.get(SRC_API, "GitRepository", "repo", ns))["spec"]["interval"] == "5m0s"

    ks = await cli(kc, "create", "ks", "apps", "--source", "GitRepository/repo", "--path", "apps", "--prune",
                   "--target-namespace", ns, "-n", ns, "--timeout", "90s")
    assert ks.rc == 0, ks.err
    assert ks.err.splitlines()[-2:] == ["✔ Kustomization apps is ready", f"✔ applied revision {revision}"]
    assert "✔ Kustomization created" in ks.err
    assert await kube.get("v1", "ConfigMap", "settings", ns)
    spec = (await kube.get(KS_API, "Kustomization", "apps", ns))["spec"]
    assert spec["path"] == "./apps"
    assert spec["prune"] is True


@pytest.mark.usefixtures("source_controller")
async def test_create_source_git_over_ssh_with_a_key_file(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, repo_builder: RepoBuilder,
    git_ssh: GitSshServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, {"a.yaml": CONFIGMAP})
    rsa = git_ssh.client_keys["rsa"]  # PEM protected by a passphrase: --password decrypts it
    assert rsa.passphrase
    made = await cli(cluster_info.kubeconfig, "create", "source", "git", "repo", "--url", git_ssh.url(repo_name),
                     "--branch", "main", "--private-key-file", str(rsa.private_key), "--password", rsa.passphrase,
                     "--silent", "-n", namespace, "--timeout", "60s")
    assert made.rc == 0, made.err
    assert f"✔ fetched revision: main@sha1:{repo.head('main')}" in made.err
    assert "✔ collected public key from SSH server:" in made.err
    assert git_ssh.host_port in made.err
    assert "► applying secret with repository credentials" in made.err
    assert "✔ authentication configured" in made.err
    data = decoded(await kube.get("v1", "Secret", "repo", namespace))
    assert set(data) == {"identity", "identity.pub", "known_hosts", "password"}
    assert data["identity"] == rsa.private_key.read_text()
    assert data["identity.pub"].split()[:2] == rsa.public_key.split()[:2]
    for line in data["known_hosts"].splitlines():
        assert line in git_ssh.known_hosts
    assert (await kube.get(SRC_API, "GitRepository", "repo", namespace))["spec"]["secretRef"] == {"name": "repo"}
    assert "PRIVATE KEY" not in made.err + made.out
    assert rsa.passphrase not in made.err + made.out


@pytest.mark.usefixtures("source_controller")
async def test_generated_deploy_key_then_source_with_secret_ref(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, repo_builder: RepoBuilder,
    git_ssh: GitSshServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, {"a.yaml": CONFIGMAP})
    kc, url = cluster_info.kubeconfig, git_ssh.url(repo_name)
    made = await cli(kc, "create", "secret", "git", "deploy", "--url", url, "-n", namespace)
    assert made.rc == 0, made.err
    assert "✚ deploy key: ecdsa-sha2-nistp384 " in made.err, "flux's default: ECDSA P-384"
    assert made.err.splitlines()[-1] == f"► git secret 'deploy' created in '{namespace}' namespace"
    data = decoded(await kube.get("v1", "Secret", "deploy", namespace))
    assert data["identity"].startswith("-----BEGIN PRIVATE KEY-----")
    assert data["identity"] not in made.err + made.out
    git_ssh.authorize(data["identity.pub"])

    ed = await cli(kc, "create", "secret", "git", "ed", "--url", url, "--ssh-key-algorithm", "ed25519",
                   "-n", namespace)
    assert ed.rc == 0, ed.err
    assert "deploy key: ssh-ed25519 " in ed.err

    source = await cli(kc, "create", "source", "git", "repo", "--url", url, "--tag", "v1", "--secret-ref", "deploy",
                       "-n", namespace, "--timeout", "10s")
    # no tag v1 in the repository: the fetch fails and the CLI says so (fails fast or times out)
    one_error_line(source, "GitRepository")
    fixed = await cli(kc, "create", "source", "git", "repo", "--url", url, "--branch", "main", "--secret-ref",
                      "deploy", "-n", namespace, "--timeout", "60s")
    assert fixed.rc == 0, fixed.err
    assert f"✔ fetched revision: main@sha1:{repo.head('main')}" in fixed.err
    assert "applying secret" not in fixed.err, "--secret-ref: no Secret generated"


async def test_create_secrets_basic_bearer_tls_helm(
    kube: KubeClient, cluster_info: ClusterInfo, namespace: str, tmp_path: Path, plant_secret: PlantSecret,
) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    password, token = plant_secret("create secret git --password"), plant_secret("create secret git --bearer-token")
    crt, key, ca = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "ca.crt"
    crt.write_text("-----BEGIN CERTIFICATE-----\nQ1JU\n-----END CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n")
    ca.write_text("-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n")

    basic = await cli(kc, "create", "secret", "git", "basic", "--url", "https://example.com/r", "-u", "me",
                      "-p", password, "--ca-crt-file", str(ca), "-n", ns)
    assert basic.rc == 0, basic.err
    assert password not in basic.err + basic.out
    assert decoded(await kube.get("v1", "Secret", "basic", ns)) == {
        "username": "me", "password": password, "ca.crt": ca.read_text()}

    bearer = await cli(kc, "create", "secret", "git", "bearer", "--url", "https://example.com/r",
                       "--bearer-token", token, "-n", ns)
    assert bearer.rc == 0, bearer.err
    assert decoded(await kube.get("v1", "Secret", "bearer", ns)) == {"bearerToken": token}

    tls = await cli(kc, "create", "secret", "tls", "certs", "--tls-crt-file", str(crt), "--tls-key-file", str(key),
                    "-n", ns)
    assert tls.rc == 0, tls.err
    assert tls.err.strip() == f"► tls secret 'certs' created in '{ns}' namespace"
    assert decoded(await kube.get("v1", "Secret", "certs", ns)) == {"tls.crt": crt.read_text(),
                                                                    "tls.key": key.read_text()}

    helm = await cli(kc, "create", "secret", "helm", "repo-auth", "-u", "u", "-p", "p", "--ca-crt-file", str(ca),
                     "--label", "app=x", "-n", ns)
    assert helm.rc == 0, helm.err
    stored = await kube.get("v1", "Secret", "repo-auth", ns)
    assert decoded(stored) == {"username": "u", "password": "p", "ca.crt": ca.read_text()}
    assert stored["metadata"]["labels"] == {"app": "x"}

    # bad input: one line naming the problem, nothing applied
    one_error_line(await cli(kc, "create", "secret", "git", "x", "--url", "https://e/r", "-n", ns),
                   "username and password, or a bearer token is required")
    one_error_line(await cli(kc, "create", "secret", "git", "x", "--url", "https://e/r", "-u", "a", "-p", "b",
                             "--bearer-token", "c", "-n", ns), "cannot be used together")
    one_error_line(await cli(kc, "create", "secret", "tls", "x", "--tls-crt-file", str(crt), "-n", ns),
                   "--tls-crt-file and --tls-key-file must be given together")
    one_error_line(await cli(kc, "create", "secret", "tls", "x", "--tls-crt-file", str(key), "--tls-key-file",
                             str(key), "-n", ns), "not PEM-encoded", str(key))
    one_error_line(await cli(kc, "create", "secret", "helm", "x", "--ca-crt-file", str(tmp_path / "nope"),
                             "-n", ns), "unable to read TLS CA file", "nope")
    one_error_line(await cli(kc, "create", "secret", "git", "x", "--url", "ssh://git@127.0.0.1:1/r", "-n", ns),
                   "SSH key scan for host 127.0.0.1:1 failed")
    assert await kube.get_or_none("v1", "Secret", "x", ns) is None


async def test_create_export_needs_no_cluster_and_matches_what_is_applied(tmp_path: Path) -> None:
    nowhere = tmp_path / "kubeconfig"  # --export never connects: a kubeconfig that does not exist is fine
    exported = await cli(nowhere, "create", "source", "git", "podinfo", "--url", "https://github.com/s/podinfo",
                         "--tag", "6.0.0", "--export")
    assert exported.rc == 0, exported.err
    assert exported.out == (
        "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n"
        "  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    tag: 6.0.0\n"
        "  url: https://github.com/s/podinfo\n\n")
    assert exported.err == ""


@pytest.mark.usefixtures("flux_crds")
async def test_create_bad_input_and_timeout(kube: KubeClient, cluster_info: ClusterInfo, namespace: str) -> None:
    kc, ns = cluster_info.kubeconfig, namespace
    git = ("create", "source", "git", "repo")
    one_error_line(await cli(kc, *git, "--branch", "main", "-n", ns), "url is required")
    one_error_line(await cli(kc, *git, "--url", "git@github.com:org/repo", "--branch", "main", "-n", ns),
                   "git URL scheme '' not supported")
    one_error_line(await cli(kc, *git, "--url", "https://e/r", "--branch", "main", "--tag", "v1", "-n", ns),
                   "--branch and --tag cannot be used together")
    one_error_line(await cli(kc, *git, "--url", "https://e/r", "--ref-name", "main", "-n", ns),
                   "invalid --ref-name 'main'")
    one_error_line(await cli(kc, *git, "--url", "https://e/r", "-n", ns), "a Git ref is required")
    one_error_line(await cli(kc, *git, "--url", "ssh://git@e/r", "--branch", "b", "--ca-file", "x", "-n", ns),
                   "CA file is not supported for Git over SSH")
    one_error_line(await cli(kc, *git, "--url", "https://e/r", "--branch", "b", "--interval", "often", "-n", ns),
                   "invalid --interval 'often'")
    one_error_line(await cli(kc, *git, "--url", "https://e/r", "--branch", "b", "--label", "x", "-n", ns),
                   "invalid label format 'x', must be key=value")
    one_error_line(await cli(kc, *git, "--url", "https://e/r", "--branch", "b", "-u", "me", "-n", ns),
                   "needs both --username and --password")
    one_error_line(await cli(kc, "create", "source", "git", "--url", "https://e/r", "-n", ns),
                   "GitRepository source name is required")
    one_error_line(await cli(kc, "create", "ks", "apps", "--path", "./x", "-n", ns), "source is required")
    one_error_line(await cli(kc, "create", "ks", "apps", "--source", "HelmRepository/x", "-n", ns),
                   "source kind 'HelmRepository' is not supported")
    one_error_line(await cli(kc, "create", "ks", "apps", "--source", "x", "--health-check", "Deployment/web",
                             "-n", ns), "invalid health check 'Deployment/web'")
    assert await kube.get_or_none(SRC_API, "GitRepository", "repo", ns) is None

    # no controller reconciles an isolated object: the wait times out and names what it waited for
    late = await cli(kc, "create", "ks", "lonely", "--source", "repo", "--label", "headwater.dev/isolated=true",
                     "--health-check", "Deployment/web.apps", "--depends-on", "infra", "-n", ns, "--timeout", "2s")
    one_error_line(late, "timed out after 2s", f"Kustomization '{ns}/lonely' to become ready",
                   "waiting to be reconciled")
    spec = (await kube.get(KS_API, "Kustomization", "lonely", ns))["spec"]
    assert spec["healthChecks"] == [{"kind": "Deployment", "name": "web", "namespace": "apps"}]
    assert spec["dependsOn"] == [{"name": "infra"}]
    assert spec["timeout"] == "2m0s"


async def test_unreachable_cluster_is_one_clear_line(tmp_path: Path) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path)
    for args in (["create", "source", "git", "r", "--url", "https://e/r", "--branch", "main"],
                 ["create", "ks", "a", "--source", "r"],
                 ["create", "secret", "helm", "h", "-u", "a", "-p", "b"],
                 ["delete", "ks", "a", "-s"], ["export", "source", "git", "--all"]):
        result = await cli(kubeconfig, *args, timeout=30)
        one_error_line(result, "127.0.0.1:1")
        assert "✗" in result.err
