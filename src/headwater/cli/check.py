"""`headwater check [--pre]`: is this cluster fit for headwater, and is the installation healthy?

Flux's checks and lines: the Kubernetes version against the constraint (`✔ kubernetes 1.36.1>=1.33.0-0`);
without `--pre` also the installation status (distribution, bootstrapped), each component's Deployment
ready (then its image), and the Flux CRDs with their served version. Every failing check prints a `✗`
line and the command ends with exit 1.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

import click

from headwater.cli.common import CliError, cluster_options, log, make_options, run
from headwater.cli.install import DEFAULT_COMPONENTS
from headwater.pflag import bool_flag, string_slice

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient

KUBERNETES_CONSTRAINT = ">=1.33.0-0"
MINIMUM = (1, 33, 0)
CRD_API = "apiextensions.k8s.io/v1"
FLUX_SELECTOR = "app.kubernetes.io/part-of=flux"


def parse_version(git_version: str) -> tuple[int, int, int] | None:
    """`v1.36.1`, `v1.34.2+k3s1`, `1.35.0-rc.1` → (major, minor, patch); None when unparseable."""
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", git_version.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def kubernetes_line(git_version: str) -> tuple[bool, str]:
    """(passes, flux's line) for the cluster's version; `-0` in the constraint admits pre-releases."""
    parsed = parse_version(git_version)
    if parsed is None:
        return False, f"error parsing kubernetes version {git_version!r}"
    shown = re.sub(r"^v", "", git_version.strip())
    return parsed >= MINIMUM, f"kubernetes {shown}{KUBERNETES_CONSTRAINT}"


async def check_kubernetes(client: KubeClient) -> bool:
    log("►", "checking kubernetes pre-requisites")
    ok, line = kubernetes_line(str((await client.version()).get("gitVersion", "")))
    log("✔" if ok else "✗", line)
    return ok


async def check_installation(client: KubeClient) -> bool:
    log("►", "checking flux installation status")
    crd = await client.get_or_none(CRD_API, "CustomResourceDefinition", "kustomizations.kustomize.toolkit.fluxcd.io")
    if crd is None:
        log("✗", "no installation found: CustomResourceDefinition kustomizations.kustomize.toolkit.fluxcd.io")
        return False
    labels = crd["metadata"].get("labels") or {}
    if labels.get("app.kubernetes.io/version"):
        log("✔", f"distribution: headwater-{labels['app.kubernetes.io/version']}")
    log("✔", f"bootstrapped: {str('kustomize.toolkit.fluxcd.io/name' in labels).lower()}")
    return True


async def check_controller(client: KubeClient, namespace: str, name: str, deadline: float,
                           poll: float) -> bool:
    from headwater.install.cluster import deployment_status

    async def probe() -> tuple[bool, str] | None:
        ready, message = await deployment_status(client, namespace, name)
        if ready or message == "Deployment not found":
            return ready, message
        return None if time.monotonic() < deadline else (False, message)

    while True:
        result = await probe()
        if result is not None:
            break
        await asyncio.sleep(min(poll, max(0.0, deadline - time.monotonic())))
    ready, message = result
    if not ready:
        log("✗", f"{name}: deployment not ready: {message}")
        return False
    log("✔", f"{name}: deployment ready")
    obj = await client.get("apps/v1", "Deployment", name, namespace)
    for container in obj["spec"]["template"]["spec"].get("containers") or []:
        log("►", str(container.get("image", "")))
    return True


async def check_crds(client: KubeClient) -> bool:
    log("►", "checking flux crds")
    items, _ = await client.list_all(CRD_API, "CustomResourceDefinition", label_selector=FLUX_SELECTOR)
    crds = sorted((c for c in items if str(c["spec"]["group"]).endswith(".fluxcd.io")),
                  key=lambda c: str(c["metadata"]["name"]))
    if not crds:
        log("✗", f"no crds found with the label selector '{FLUX_SELECTOR}'")
        return False
    ok = True
    for crd in crds:
        served = [v["name"] for v in crd["spec"].get("versions") or [] if v.get("served")]
        if served:
            log("✔", f"{crd['metadata']['name']}/{served[-1]}")
        else:
            log("✗", f"no served versions for {crd['metadata']['name']}")
            ok = False
    return ok


@click.command("check")
@bool_flag("--pre", help="Only run the pre-installation checks.")
@string_slice("--components", default=[DEFAULT_COMPONENTS], show_default=True,
              help="The components to check, comma-separated.")
@string_slice("--components-extra", help="Components to check in addition, comma-separated.")
@click.option("--poll-interval", default="5s", show_default=True, metavar="DURATION",
              help="How often to poll the controllers' Deployments while they are not ready.")
@cluster_options()
def check(pre: bool, components: tuple[str, ...], components_extra: tuple[str, ...], poll_interval: str,
          kubeconfig: str | None, context: str | None, namespace: str, timeout: str) -> None:
    """Check the prerequisites and the health of the installed controllers."""
    from headwater.cli.common import parse_timeout

    opts = make_options(kubeconfig, context, namespace, timeout)
    poll = parse_timeout(poll_interval)
    names = list(dict.fromkeys([*components, *components_extra]))

    async def body(client: KubeClient) -> None:
        deadline = time.monotonic() + opts.timeout
        if not await check_kubernetes(client):
            raise CliError("pre-requisites checks failed")
        if pre:
            log("✔", "all pre-requisites checks passed")
            return
        ok = await check_installation(client)
        log("►", "checking flux controllers")
        for name in names:
            ok = await check_controller(client, opts.namespace, name, deadline, poll) and ok
        ok = await check_crds(client) and ok
        if not ok:
            raise CliError("checks failed")
        log("✔", "all checks passed")

    run(opts, body)

