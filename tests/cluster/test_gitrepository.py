"""GitRepository end to end: real Git servers (HTTP and SSH), the real apiserver, our source controller."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from headwater.artifact.fetch import fetch_artifact
from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer, HttpAuth
from headwater.devcluster.gitserver_ssh import GitSshServer
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient
from tests.cluster.conftest import RunningSource
from tests.secrets_scan import PlantSecret
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster
API = "source.toolkit.fluxcd.io/v1"
FILES = {"deploy/app.yaml": "kind: ConfigMap\n", "README.md": "hello\n"}


def git_repository(name: str, namespace: str, url: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "GitRepository", "metadata": {"name": name, "namespace": namespace},
            "spec": {"url": url, "interval": "10m", "timeout": "20s", **spec}}


def secret(name: str, namespace: str, **data: str | bytes) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": encoded}


async def get_repo(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    return await kube.get(API, "GitRepository", name, namespace)


async def ready(kube: KubeClient, namespace: str, name: str, revision: str | None = None,
                timeout: float = 20) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await get_repo(kube, namespace, name)
        conds = (obj.get("status") or {}).get("conditions") or []
        artifact = (obj.get("status") or {}).get("artifact") or {}
        ok = cond.is_true(conds, "Ready") and (revision is None or artifact.get("revision") == revision)
        return obj if ok else None

    return await wait_for(probe, f"GitRepository {name} Ready at {revision or 'any revision'}", timeout=timeout)


async def failing(kube: KubeClient, namespace: str, name: str, timeout: float = 20) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await get_repo(kube, namespace, name)
        return obj if cond.is_false((obj.get("status") or {}).get("conditions") or [], "Ready") else None

    return await wait_for(probe, f"GitRepository {name} Ready=False", timeout=timeout)


async def listing(artifact: dict[str, Any], tmp: Path) -> list[str]:
    dest = await fetch_artifact(artifact["url"], artifact["digest"], tmp / "content")
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())


async def request(kube: KubeClient, namespace: str, name: str, token: str) -> None:
    await kube.patch(API, "GitRepository", name,
                     {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}, namespace=namespace)


@pytest.mark.usefixtures("source_controller")
async def test_http_clone_artifact_event_and_new_commit_on_request(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    tmp_path: Path,
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    first = repo.head("main")
    await kube.create(git_repository("app", namespace, git_http.url(repo_name), ref={"branch": "main"}))
    obj = await ready(kube, namespace, "app", f"main@sha1:{first}")

    artifact = obj["status"]["artifact"]
    assert artifact["path"] == f"gitrepository/{namespace}/app/{first}.tar.gz"
    assert artifact["url"].endswith(artifact["path"])
    assert artifact["digest"].startswith("sha256:")
    assert await listing(artifact, tmp_path / "one") == ["README.md", "deploy/app.yaml"]
    conds = obj["status"]["conditions"]
    assert cond.get_message(conds, "Ready") == f"stored artifact for revision 'main@sha1:{first}'"
    assert cond.is_true(conds, "ArtifactInStorage")
    assert "url" not in obj["status"]
    events = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=app"))["items"]
    expected = [("NewArtifact", "stored artifact for commit 'initial commit'")]
    assert [(e["reason"], e["message"]) for e in events] == expected
    assert events[0]["source"]["component"] == "source-controller"
    assert events[0]["metadata"]["annotations"]["source.toolkit.fluxcd.io/revision"] == f"main@sha1:{first}"

    second = repo.commit({"deploy/app.yaml": "kind: Secret\n"}, "change the app")
    await request(kube, namespace, "app", "now")
    obj = await ready(kube, namespace, "app", f"main@sha1:{second}")
    assert obj["status"]["lastHandledReconcileAt"] == "now"
    assert obj["status"]["artifact"]["digest"] != artifact["digest"]


@pytest.mark.usefixtures("source_controller")
async def test_unchanged_remote_means_no_fetch_and_same_digest(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    source_controller: RunningSource,
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    await kube.create(git_repository("steady", namespace, git_http.url(repo_name), ref={"branch": "main"}))
    obj = await ready(kube, namespace, "steady")
    fetches = git_http.stats[repo_name]["upload-pack"]
    assert fetches == 1
    for token in ("a", "b", "c"):
        await request(kube, namespace, "steady", token)

        async def handled(t: str = token) -> bool:
            return (await get_repo(kube, namespace, "steady"))["status"].get("lastHandledReconcileAt") == t

        await wait_for(handled, f"requestedAt {token} to be handled")
    assert git_http.stats[repo_name]["upload-pack"] == fetches, "an unchanged revision must not be fetched again"
    again = await get_repo(kube, namespace, "steady")
    assert again["status"]["artifact"] == obj["status"]["artifact"]
    assert repo.head("main") in again["status"]["artifact"]["revision"]


@pytest.mark.usefixtures("source_controller")
async def test_basic_and_bearer_auth_and_a_wrong_password_never_leaks(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http_factory: Any, repo_name: str,
    caplog: pytest.LogCaptureFixture, plant_secret: PlantSecret,
) -> None:
    caplog.set_level(logging.DEBUG, logger="headwater")
    password, token, wrong = plant_secret("git password"), plant_secret("git bearer token"), plant_secret("wrong pw")
    repo = repo_builder.create(repo_name, FILES)
    basic = git_http_factory(auth=HttpAuth.basic("flux", password))
    bearer = git_http_factory(auth=HttpAuth.bearer(token))
    await kube.create(secret("basic", namespace, username="flux", password=password))
    await kube.create(secret("bearer", namespace, bearerToken=token))
    await kube.create(secret("wrong", namespace, username="flux", password=wrong))
    await kube.create(git_repository("basic", namespace, basic.url(repo_name), ref={"branch": "main"},
                                     secretRef={"name": "basic"}))
    await kube.create(git_repository("bearer", namespace, bearer.url(repo_name), ref={"branch": "main"},
                                     secretRef={"name": "bearer"}))
    await kube.create(git_repository("wrong", namespace, basic.url(repo_name), ref={"branch": "main"},
                                     secretRef={"name": "wrong"}))
    head = repo.head("main")
    await ready(kube, namespace, "basic", f"main@sha1:{head}")
    await ready(kube, namespace, "bearer", f"main@sha1:{head}")
    obj = await failing(kube, namespace, "wrong")
    conds = obj["status"]["conditions"]
    assert cond.get_reason(conds, "Ready") == "AuthenticationFailed"
    assert cond.get_reason(conds, "FetchFailed") == "AuthenticationFailed"
    events = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=wrong"))["items"]
    assert {e["reason"] for e in events} == {"AuthenticationFailed"}
    assert "AuthenticationFailed" in caplog.text, "the failure must be logged"
    everything = str(obj) + str(events) + caplog.text
    assert wrong not in everything
    assert password not in everything
    assert token not in everything


@pytest.mark.usefixtures("source_controller")
async def test_ssh_with_known_hosts_and_a_changed_host_key(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_ssh: GitSshServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    key = git_ssh.client_keys["ed25519"]
    identity = Path(key.private_key).read_bytes()
    await kube.create(secret("ssh", namespace, identity=identity, known_hosts=git_ssh.known_hosts))
    forged = f"{git_ssh.host_port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    await kube.create(secret("forged", namespace, identity=identity, known_hosts=forged))
    await kube.create(git_repository("ssh", namespace, git_ssh.url(repo_name), ref={"branch": "main"},
                                     secretRef={"name": "ssh"}))
    await kube.create(git_repository("forged", namespace, git_ssh.url(repo_name), ref={"branch": "main"},
                                     secretRef={"name": "forged"}))
    await ready(kube, namespace, "ssh", f"main@sha1:{repo.head('main')}")
    obj = await failing(kube, namespace, "forged")
    message = cond.get_message(obj["status"]["conditions"], "Ready")
    assert "host key verification failed" in message
    assert "known_hosts" in message


@pytest.mark.usefixtures("source_controller")
async def test_each_ref_kind_resolves_with_flux_revision_strings(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    first = repo.head("main")
    repo.tag("v1.0.0", message="release 1.0.0")  # annotated
    second = repo.commit({"v": "1.1"}, "one point one")
    repo.tag("v1.1.0")  # lightweight
    third = repo.commit({"v": "2"}, "two")
    repo.tag("v2.0.0-rc.1")
    pull = repo.pull_request(1, {"pr.txt": "proposal"}, "a proposal")
    url = git_http.url(repo_name)
    cases = {
        "branch": ({"branch": "main"}, f"main@sha1:{third}"),
        "annotated-tag": ({"tag": "v1.0.0"}, f"v1.0.0@sha1:{first}"),
        "semver": ({"semver": ">=1.0.0 <2.0.0"}, f"v1.1.0@sha1:{second}"),
        "pull": ({"name": "refs/pull/1/head"}, f"refs/pull/1/head@sha1:{pull}"),
        "commit": ({"commit": second}, f"sha1:{second}"),
        "commit-on-branch": ({"branch": "main", "commit": first}, f"main@sha1:{first}"),
        "default": (None, None),
    }
    for name, (ref, _) in cases.items():
        spec = {"ref": ref} if ref else {}
        await kube.create(git_repository(name, namespace, url, **spec))
    for name, (_, expected) in cases.items():
        if expected:
            await ready(kube, namespace, name, expected)
    default = await failing(kube, namespace, "default")  # no ref: branch master, which this repo lacks
    assert 'couldn\'t find remote ref "refs/heads/master"' in cond.get_message(default["status"]["conditions"], "Ready")


@pytest.mark.usefixtures("source_controller")
async def test_bad_refs_fail_clearly_and_an_invalid_range_stalls(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    repo_builder.create(repo_name, FILES)
    url = git_http.url(repo_name)
    await kube.create(git_repository("no-branch", namespace, url, ref={"branch": "nope"}))
    await kube.create(git_repository("bad-range", namespace, url, ref={"semver": ">= 1.x.y ~~"}))
    await kube.create(git_repository("unreachable", namespace, "http://127.0.0.1:9/repo.git"))
    obj = await failing(kube, namespace, "no-branch")
    assert 'refs/heads/nope' in cond.get_message(obj["status"]["conditions"], "Ready")

    async def stalled() -> dict[str, Any] | None:
        found = await get_repo(kube, namespace, "bad-range")
        return found if cond.is_true((found.get("status") or {}).get("conditions") or [], "Stalled") else None

    obj = await wait_for(stalled, "an invalid semver range to stall")
    assert "semver" in cond.get_message(obj["status"]["conditions"], "Stalled")
    obj = await failing(kube, namespace, "unreachable")
    message = cond.get_message(obj["status"]["conditions"], "Ready")
    assert "unable to reach http://127.0.0.1:9/repo.git" in message
    assert cond.get_reason(obj["status"]["conditions"], "Reconciling") == "ProgressingWithRetry"


@pytest.mark.usefixtures("source_controller")
async def test_artifact_is_reproducible_ignores_rules_and_never_follows_escaping_links(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    tmp_path: Path,
) -> None:
    files: dict[str, Any] = {
        "app/deploy.yaml": "kind: ConfigMap\n",
        "app/notes.md": "skip me\n",
        "docs/.sourceignore": "*.png\n",
        "docs/diagram.png": "png\n",
        "docs/guide.md": "guide\n",
        "image.jpg": "jpg\n",
    }
    repo = repo_builder.create(repo_name, files)
    work = repo_builder.scratch(f"{repo_name}-links")
    git = repo_builder.git
    git.run("clone", "-q", str(repo.path), str(work))
    (work / "passwd").symlink_to("/etc/passwd")
    (work / "up").symlink_to("../..")
    (work / "inside").symlink_to("app/deploy.yaml")
    git.run("-C", str(work), "add", "-A")
    git.run("-C", str(work), "commit", "-qm", "links")
    git.run("-C", str(work), "push", "-q", "origin", "main")
    head = repo.head("main")
    url = git_http.url(repo_name)
    await kube.create(git_repository("one", namespace, url, ref={"branch": "main"}, ignore="/app/*.md\n"))
    await kube.create(git_repository("two", namespace, url, ref={"branch": "main"}, ignore="/app/*.md\n"))
    first = await ready(kube, namespace, "one", f"main@sha1:{head}")
    await asyncio.sleep(1.1)  # a later checkout: file times differ, the artifact must not
    second = await ready(kube, namespace, "two", f"main@sha1:{head}")
    assert first["status"]["artifact"]["digest"] == second["status"]["artifact"]["digest"]
    assert first["status"]["observedIgnore"] == "/app/*.md\n"

    artifact = first["status"]["artifact"]
    async with aiohttp.ClientSession() as http, http.get(artifact["url"]) as response:
        data = await response.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        names = sorted(m.name for m in archive.getmembers() if m.isfile())
    # spec.ignore replaces the default exclusions (so image.jpg stays); .sourceignore applies below docs/
    assert names == ["app/deploy.yaml", "docs/.sourceignore", "docs/guide.md", "image.jpg"]
    listing_out = subprocess.run(["tar", "-tzvf", "-"], input=data, capture_output=True, check=True).stdout.decode()
    assert "passwd" not in listing_out
    assert " up" not in listing_out
    assert "root" not in listing_out


@pytest.mark.usefixtures("source_controller")
async def test_deletion_removes_artifacts_and_gc_keeps_two(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    source_controller: RunningSource,
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    await kube.create(git_repository("churn", namespace, git_http.url(repo_name), ref={"branch": "main"}))
    await ready(kube, namespace, "churn", f"main@sha1:{repo.head('main')}")
    directory = source_controller.store.root / "gitrepository" / namespace / "churn"
    source_controller.store.retention_ttl = 3600.0  # count-based retention only, for this check
    try:
        for index in range(3):
            sha = repo.commit({"n": str(index)}, f"change {index}")
            await request(kube, namespace, "churn", f"t{index}")
            await ready(kube, namespace, "churn", f"main@sha1:{sha}")
        kept = sorted(p.name for p in directory.iterdir() if p.name.endswith(".tar.gz"))
        assert len(kept) == 2, kept
        assert f"{repo.head('main')}.tar.gz" in kept
    finally:
        source_controller.store.retention_ttl = 60.0
    await kube.delete(API, "GitRepository", "churn", namespace)

    async def removed() -> bool:
        return not directory.exists() and await kube.get_or_none(API, "GitRepository", "churn", namespace) is None

    await wait_for(removed, "the artifacts to be removed with the object")


@pytest.mark.usefixtures("source_controller")
async def test_signed_commits_verify_and_unsigned_ones_produce_no_artifact(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
) -> None:
    ssh_signer = repo_builder.ssh_signer()
    pgp_signer = repo_builder.gpg_signer()
    repo = repo_builder.create(repo_name, FILES, signer=ssh_signer)
    signed = repo.head("main")
    repo.branch("pgp")
    pgp_signed = repo.commit({"pgp": "1"}, "pgp-signed", branch="pgp", signer=pgp_signer)
    repo.branch("unsigned")
    repo.commit({"x": "1"}, "not signed", branch="unsigned")
    repo.tag("v1.0.0", ref="refs/heads/main", message="signed release", signer=ssh_signer)
    await kube.create(secret("keys", namespace, **{"author.sshpub": ssh_signer.key.public_key,
                                                   "release.asc": pgp_signer.public_key}))
    url = git_http.url(repo_name)
    verify = {"secretRef": {"name": "keys"}}
    await kube.create(git_repository("ssh-signed", namespace, url, ref={"branch": "main"}, verify=verify))
    await kube.create(git_repository("pgp-signed", namespace, url, ref={"branch": "pgp"}, verify=verify))
    await kube.create(git_repository("tag-signed", namespace, url, ref={"tag": "v1.0.0"},
                                     verify={"mode": "TagAndHEAD", "secretRef": {"name": "keys"}}))
    await kube.create(git_repository("unsigned", namespace, url, ref={"branch": "unsigned"}, verify=verify))

    for name, revision in (("ssh-signed", f"main@sha1:{signed}"), ("pgp-signed", f"pgp@sha1:{pgp_signed}"),
                           ("tag-signed", f"v1.0.0@sha1:{signed}")):
        obj = await ready(kube, namespace, name, revision)
        conds = obj["status"]["conditions"]
        assert cond.is_true(conds, "SourceVerified"), name
        assert cond.get_message(conds, "SourceVerified").startswith("verified signature of ")
    assert (await get_repo(kube, namespace, "tag-signed"))["status"]["sourceVerificationMode"] == "TagAndHEAD"
    obj = await failing(kube, namespace, "unsigned")
    conds = obj["status"]["conditions"]
    assert cond.is_false(conds, "SourceVerified")
    assert cond.get_reason(conds, "Ready") == "VerificationError"
    assert "is not signed" in cond.get_message(conds, "Ready")
    assert "artifact" not in obj["status"], "an unverified commit must not become an artifact"


@pytest.mark.usefixtures("source_controller")
async def test_include_and_submodules_and_a_change_in_an_included_repository_rebuilds(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http: GitHttpServer, repo_name: str,
    tmp_path: Path,
) -> None:
    library = repo_builder.create(f"lib-{repo_name}", {"lib/base.yaml": "kind: Namespace\n"})
    shared = repo_builder.create(f"shared-{repo_name}", {"config/common.yaml": "kind: ConfigMap\n"})
    app = repo_builder.create(repo_name, FILES)
    app.add_submodule("vendor/lib", library, url=git_http.url(f"lib-{repo_name}"))
    await kube.create(git_repository("shared", namespace, git_http.url(f"shared-{repo_name}"),
                                     ref={"branch": "main"}))
    await kube.create(git_repository("app", namespace, git_http.url(repo_name), ref={"branch": "main"},
                                     recurseSubmodules=True,
                                     include=[{"repository": {"name": "shared"}, "fromPath": "config",
                                               "toPath": "included"}]))
    await ready(kube, namespace, "shared")
    obj = await ready(kube, namespace, "app", f"main@sha1:{app.head('main')}")
    files = await listing(obj["status"]["artifact"], tmp_path / "one")
    assert files == ["README.md", "deploy/app.yaml", "included/common.yaml", "vendor/lib/lib/base.yaml"]
    assert obj["status"]["observedRecurseSubmodules"] is True
    assert [a["revision"] for a in obj["status"]["includedArtifacts"]] == [f"main@sha1:{shared.head('main')}"]

    shared.commit({"config/extra.yaml": "kind: Secret\n"}, "more shared config")
    await request(kube, namespace, "shared", "bump")

    async def rebuilt() -> dict[str, Any] | None:
        found = await get_repo(kube, namespace, "app")
        included = found["status"].get("includedArtifacts") or [{}]
        return found if included[0].get("revision") == f"main@sha1:{shared.head('main')}" else None

    obj = await wait_for(rebuilt, "the including repository to rebuild when the included one changes")
    files = await listing(obj["status"]["artifact"], tmp_path / "two")
    assert "included/extra.yaml" in files


@pytest.mark.usefixtures("source_controller")
async def test_custom_ca_and_client_certificate(
    kube: KubeClient, namespace: str, repo_builder: RepoBuilder, git_http_factory: Any, repo_name: str,
) -> None:
    repo = repo_builder.create(repo_name, FILES)
    server = git_http_factory(tls=True, client_cert_required=True)
    tls = server.tls
    await kube.create(secret("mtls", namespace, **{"ca.crt": tls.ca_pem, "tls.crt": tls.client.cert.read_bytes(),
                                                   "tls.key": tls.client.key.read_bytes()}))
    await kube.create(secret("ca-only", namespace, **{"ca.crt": tls.ca_pem}))
    await kube.create(git_repository("mtls", namespace, server.url(repo_name), ref={"branch": "main"},
                                     secretRef={"name": "mtls"}))
    await kube.create(git_repository("no-client-cert", namespace, server.url(repo_name), ref={"branch": "main"},
                                     secretRef={"name": "ca-only"}))
    await kube.create(git_repository("unknown-ca", namespace, server.url(repo_name), ref={"branch": "main"}))
    await ready(kube, namespace, "mtls", f"main@sha1:{repo.head('main')}")
    await failing(kube, namespace, "no-client-cert")
    obj = await failing(kube, namespace, "unknown-ca")
    assert "certificate verify failed" in cond.get_message(obj["status"]["conditions"], "Ready").lower()
