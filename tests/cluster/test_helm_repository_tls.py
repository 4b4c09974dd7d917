"""An HTTPS HelmRepository with `certSecretRef`: a CA made at test time, a client certificate for mutual TLS.

The chart server is the tests' aiohttp server on 127.0.0.1 with a server certificate of a throwaway CA,
requiring a client certificate of the same CA. The HelmRepository trusts the CA from `ca.crt` and presents
`tls.crt`/`tls.key`; with another CA in the Secret the index fetch is refused with the verification
failure named and nothing of the Secret in the message; with no client certificate the server hangs up.
A chart's dependency on that server gets the same TLS from the namespace's HelmRepository of its URL.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.devcluster.gitrepos import RepoBuilder
from headwater.devcluster.gitserver_http import GitHttpServer
from headwater.devcluster.gitserver_tls import TlsMaterial, generate_ca, generate_tls
from headwater.devcluster.helmtools import HelmTools
from headwater.runtime.kube import KubeClient
from headwater.source.helm.archive import read_archive
from tests.cluster.helm_objects import SRC, condition, download, helm_chart, helm_repository, not_ready, ready, until
from tests.cluster.helm_repos import HelmHTTPServer, index, package
from tests.helm_charts import write_chart

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def tls(tmp_path: Path) -> TlsMaterial:
    return generate_tls(tmp_path / "tls")


@pytest.fixture
async def https_repo(tmp_path: Path, helm_tools: HelmTools, tls: TlsMaterial) -> AsyncIterator[HelmHTTPServer]:
    root = tmp_path / "repo"
    package(helm_tools, tmp_path / "home", write_chart(tmp_path / "src"), root)
    index(helm_tools, tmp_path / "home", root)
    server = await HelmHTTPServer(root, tls=tls, client_cert_required=True).start()
    yield server
    await server.stop()


async def tls_secret(kube: KubeClient, namespace: str, name: str, ca: bytes, cert: bytes | None = None,
                     key: bytes | None = None) -> None:
    data = {"ca.crt": ca, **({"tls.crt": cert, "tls.key": key} if cert and key else {})}
    await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                       "data": {k: base64.b64encode(v).decode() for k, v in data.items()}})


@pytest.mark.usefixtures("source_controller")
async def test_mutual_tls_with_the_secrets_ca_and_client_certificate_and_refusals(
        kube: KubeClient, namespace: str, tmp_path: Path, https_repo: HelmHTTPServer, tls: TlsMaterial) -> None:
    client_cert, client_key = tls.client.cert.read_bytes(), tls.client.key.read_bytes()
    other = generate_ca(tmp_path / "other", "other-ca")
    await tls_secret(kube, namespace, "wrong-ca", other.cert.read_bytes(), client_cert, client_key)
    await helm_repository(kube, namespace, "wrong", https_repo.url, certSecretRef={"name": "wrong-ca"})
    refused = await until(kube, SRC, "HelmRepository", "wrong", namespace, not_ready("Failed"), "refused")
    message = condition(refused, "FetchFailed")["message"]
    assert message == (f"failed to fetch Helm repository index: failed to fetch {https_repo.url}/index.yaml: "
                       "TLS certificate verification failed: self-signed certificate in certificate chain")
    assert condition(refused, "Ready")["message"] == message
    assert "artifact" not in refused["status"]
    events = (await kube.list("v1", "Event", namespace, field_selector="involvedObject.name=wrong"))["items"]
    shown = message + "".join(e["message"] for e in events)
    for secret in (client_key, client_cert, other.cert.read_bytes()):
        for line in secret.decode().splitlines()[1:-1]:
            assert line not in shown

    await tls_secret(kube, namespace, "ca-only", tls.ca_pem)
    await helm_repository(kube, namespace, "no-client-cert", https_repo.url, certSecretRef={"name": "ca-only"})
    hung_up = await until(kube, SRC, "HelmRepository", "no-client-cert", namespace, not_ready("Failed"), "refused")
    assert condition(hung_up, "FetchFailed")["message"] == (
        f"failed to fetch Helm repository index: failed to fetch {https_repo.url}/index.yaml: the server closed the "
        "connection")
    assert https_repo.requests["index.yaml"] == 0, "no request got through without the client certificate"

    await tls_secret(kube, namespace, "mtls", tls.ca_pem, client_cert, client_key)
    await helm_repository(kube, namespace, "charts", https_repo.url, certSecretRef={"name": "mtls"})
    repo = await until(kube, SRC, "HelmRepository", "charts", namespace, ready, "Ready over mutual TLS")
    assert repo["status"]["artifact"]["revision"].startswith("sha256:")
    await helm_chart(kube, namespace, "greeter", "greeter", ("HelmRepository", "charts"), version="0.1.x")
    chart = await until(kube, SRC, "HelmChart", "greeter", namespace, ready, "pulled over mutual TLS")
    assert condition(chart, "Ready")["message"] == "pulled 'greeter' chart with version '0.1.0'"
    pulled = read_archive(await download(chart["status"]["artifact"]["url"]), label="artifact")
    assert pulled.name == "greeter"
    assert https_repo.requests["greeter-0.1.0.tgz"] == 1


@pytest.mark.usefixtures("source_controller")
async def test_a_dependency_on_the_https_repository_uses_the_matching_helmrepository_tls(
        kube: KubeClient, namespace: str, https_repo: HelmHTTPServer, tls: TlsMaterial, repo_builder: RepoBuilder,
        git_http: GitHttpServer, repo_name: str) -> None:
    """Anonymous, the dependency's server is not trusted; once the namespace has a HelmRepository of that URL
    with the CA and client certificate, the range resolves against its index and the chart is fetched."""
    repo_builder.create(repo_name, {
        "app/Chart.yaml": f"apiVersion: v2\nname: app\nversion: 2.0.0\ndependencies:\n"
                          f"- {{name: greeter, version: 0.1.x, repository: '{https_repo.url}'}}\n"})
    await kube.create({"apiVersion": SRC, "kind": "GitRepository", "metadata": {"name": "src", "namespace": namespace},
                       "spec": {"interval": "10m", "url": git_http.url(repo_name), "ref": {"branch": "main"}}})
    await helm_chart(kube, namespace, "app", "app", ("GitRepository", "src"))
    refused = await until(kube, SRC, "HelmChart", "app", namespace, not_ready("DependencyBuildError"), "refused")
    assert condition(refused, "Ready")["message"] == (
        f"dependency build error: HelmChart {namespace}/app chart 'app': failed to add remote dependency 'greeter': "
        f"failed to get chart 'greeter' version '0.1.x' from '{https_repo.url}': failed to fetch "
        f"{https_repo.url}/index.yaml: TLS certificate verification failed: self-signed certificate in certificate "
        "chain")

    await tls_secret(kube, namespace, "mtls", tls.ca_pem, tls.client.cert.read_bytes(), tls.client.key.read_bytes())
    await helm_repository(kube, namespace, "charts", https_repo.url, certSecretRef={"name": "mtls"})
    chart = await until(kube, SRC, "HelmChart", "app", namespace, ready, "built with the dependency", timeout=120)
    assert condition(chart, "Ready")["message"] == "packaged 'app' chart with version '2.0.0'"
    packaged = read_archive(await download(chart["status"]["artifact"]["url"]), label="artifact")
    assert [path for path in packaged.files if path.startswith("charts/")] == ["charts/greeter-0.1.0.tgz"]
    assert https_repo.requests["greeter-0.1.0.tgz"] == 1
