"""The controller kit's wiring without a cluster: shared cache, declared watches, specs, typed flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner

from headwater.api.kinds import GIT_REPOSITORY, KUSTOMIZATION
from headwater.cli.controller import controller, controller_client
from headwater.controllers import discover
from headwater.kustomize.controller import setup as kustomize_setup
from headwater.kustomize.reconciler import KustomizationReconciler
from headwater.kustomize.spec import KustomizeFlags
from headwater.runtime.cache import SharedCache
from headwater.runtime.context import ReconcileContext
from headwater.runtime.flags import click_options, flag, from_params
from headwater.runtime.informer import WatchEvent
from headwater.runtime.kube import KubeClient, connect
from headwater.runtime.manager import Manager
from headwater.runtime.options import ControllerOptions
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import Result
from headwater.runtime.spec import SetupContext
from headwater.runtime.watches import artifact_changed, referenced_by
from tests.kubeconfigs import unreachable_kubeconfig

pytestmark = pytest.mark.unit

SOURCE_REF = KUSTOMIZATION.reference_at("spec", "sourceRef")


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> KubeClient:
    """A client for an address nobody serves: nothing in these tests starts an informer."""
    return connect(unreachable_kubeconfig(tmp_path_factory.mktemp("kube")))


class Noop(Reconciler):
    api_version: ClassVar[str] = KUSTOMIZATION.api_version
    kind: ClassVar[str] = KUSTOMIZATION.kind

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        return Result()


class NoopRepositories(Noop):
    api_version: ClassVar[str] = GIT_REPOSITORY.api_version
    kind: ClassVar[str] = GIT_REPOSITORY.kind


def ks(name: str, source: str, namespace: str = "apps", source_namespace: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"kind": "GitRepository", "name": source}
    if source_namespace:
        ref["namespace"] = source_namespace
    return {"apiVersion": KUSTOMIZATION.api_version, "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"},
            "spec": {"sourceRef": ref, "interval": "1m", "prune": True}}


def repo(name: str, namespace: str = "apps", revision: str | None = None) -> dict[str, Any]:
    status = {"artifact": {"revision": revision}} if revision else {}
    return {"apiVersion": GIT_REPOSITORY.api_version, "kind": "GitRepository",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"}, "status": status}


def test_the_cache_gives_every_controller_the_same_informer_per_kind(offline: KubeClient) -> None:
    cache = SharedCache(offline, namespace="apps", label_selector="shard=a")
    first, again = cache.informer_for(GIT_REPOSITORY), cache.informer(GIT_REPOSITORY.api_version, "GitRepository")
    assert first is again
    assert (first.namespace, first.label_selector) == ("apps", "shard=a")
    assert cache.informer_for(KUSTOMIZATION) is not first
    assert len(cache) == 2


def test_an_index_declared_twice_must_be_the_same_function(offline: KubeClient) -> None:
    cache = SharedCache(offline)
    watch = referenced_by(SOURCE_REF, GIT_REPOSITORY.api_version, "GitRepository")
    assert watch.index is not None
    cache.add_index(KUSTOMIZATION, *watch.index)
    cache.add_index(KUSTOMIZATION, *watch.index)  # a second controller declaring the same watch
    with pytest.raises(ValueError, match="another function"):
        cache.add_index(KUSTOMIZATION, watch.index[0], lambda obj: [])


@pytest.mark.parametrize(
    ("event", "woken"),
    [
        pytest.param(WatchEvent("ADDED", repo("site", revision="main@sha1:1")), [("apps", "a"), ("apps", "b")],
                     id="a first artifact wakes both users"),
        pytest.param(WatchEvent("MODIFIED", repo("site", revision="main@sha1:2"), repo("site", revision="main@sha1:1")),
                     [("apps", "a"), ("apps", "b")], id="a new revision wakes both users"),
        pytest.param(WatchEvent("MODIFIED", repo("site", revision="main@sha1:1"), repo("site", revision="main@sha1:1")),
                     [], id="a status write without a new revision wakes nobody"),
        pytest.param(WatchEvent("DELETED", repo("site", revision="main@sha1:1")), [], id="a deletion wakes nobody"),
        pytest.param(WatchEvent("ADDED", repo("other", revision="main@sha1:1")), [("apps", "c")],
                     id="only the users of that source"),
        pytest.param(WatchEvent("ADDED", repo("site", "infra", revision="main@sha1:1")), [("team", "d")],
                     id="a cross-namespace reference"),
    ],
)
async def test_a_declared_watch_wakes_exactly_the_objects_referencing_the_change(
    event: WatchEvent, woken: list[tuple[str, str]], offline: KubeClient,
) -> None:
    manager = Manager("test", offline, ControllerOptions(metrics_addr="0", health_addr="0"))
    watch = referenced_by(SOURCE_REF, GIT_REPOSITORY.api_version, "GitRepository", when=artifact_changed)
    controller = manager.new_controller("kustomization", Noop(), watches=[watch])
    primary = manager.cache.informer_for(KUSTOMIZATION)
    for obj in (ks("a", "site"), ks("b", "site"), ks("c", "other"), ks("d", "site", "team", "infra")):
        primary._apply("ADDED", obj)
    sources = manager.cache.informer_for(GIT_REPOSITORY)
    if event.old is not None or event.type == "DELETED":  # what the cache held before the change
        sources._apply("ADDED", event.old or event.obj)
    while len(controller.queue):  # the ADDED events enqueue; drain them
        controller.queue.done(await controller.queue.get())
    sources._apply(event.type, event.obj)
    keys = []
    while len(controller.queue):
        keys.append(await controller.queue.get())
    assert sorted(keys) == woken


def test_controllers_sharing_a_kind_share_its_informer_on_one_manager(offline: KubeClient) -> None:
    manager = Manager("test", offline, ControllerOptions(metrics_addr="0", health_addr="0"))
    manager.new_controller("gitrepository", NoopRepositories())
    manager.new_controller("kustomization", Noop(),
                           watches=[referenced_by(SOURCE_REF, GIT_REPOSITORY.api_version, "GitRepository")])
    kinds = sorted(informer.kind for informer in manager._all_informers())
    assert kinds == ["GitRepository", "Kustomization"]


@dataclasses.dataclass(frozen=True)
class Flags:
    path: str = flag("/data", "Where.")
    records: int = flag(2, "How many.")
    ttl: float = flag(60.0, "How long.", duration=True)
    strict: bool = flag(False, "Whether.")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], Flags()),
        (["--path=/x", "--records", "5"], Flags(path="/x", records=5)),
        (["--ttl=1h30m"], Flags(ttl=5400.0)),
        (["--ttl", "750ms"], Flags(ttl=0.75)),
        (["--strict"], Flags(strict=True)),
        (["--strict=true"], Flags(strict=True)),
        (["--strict=false"], Flags(strict=False)),
        (["--strict=T"], Flags(strict=True)),
        (["--strict=0"], Flags(strict=False)),
    ],
)
def test_typed_flags_parse_with_go_syntax(argv: list[str], expected: Flags) -> None:
    seen: list[Flags] = []

    def callback(**params: Any) -> None:
        seen.append(from_params(Flags, params))
        assert params == {}

    command = click.Command("c", callback=callback, params=list(click_options(Flags)))
    result = CliRunner().invoke(command, argv)
    assert result.exit_code == 0, result.output
    assert seen == [expected]


def test_the_built_in_controllers_are_discovered_with_flux_names_and_concurrency() -> None:
    specs = discover()
    assert {name: (spec.process_name, spec.concurrent) for name, spec in specs.items()} == {
        "source": ("source-controller", 2),
        "kustomize": ("kustomize-controller", 4),
        "helm": ("helm-controller", 4),
    }


@pytest.mark.parametrize(
    ("command", "present", "absent"),
    [
        ("source", ["--storage-path", "--artifact-retention-ttl", "--concurrent"],
         ["--no-remote-bases", "--no-cross-namespace-refs"]),
        ("kustomize", ["--no-remote-bases", "--no-cross-namespace-refs", "--default-service-account"],
         ["--storage-path", "--artifact-retention-records"]),
        ("all", ["--storage-path", "--no-remote-bases", "--no-cross-namespace-refs"], []),
    ],
)
def test_a_controllers_flags_appear_only_on_its_own_command(command: str, present: list[str],
                                                            absent: list[str]) -> None:
    group_ctx = click.Context(controller)
    sub = controller.get_command(group_ctx, command)
    assert sub is not None
    names = {opt for param in sub.params for opt in getattr(param, "opts", [])}
    assert set(present) <= names
    assert not set(absent) & names


@pytest.mark.parametrize(("command", "default"), [("source", 2), ("kustomize", 4), ("helm", 4)])
def test_each_controller_has_fluxs_concurrency_default(command: str, default: int) -> None:
    sub = controller.get_command(click.Context(controller), command)
    assert sub is not None
    concurrent = next(p for p in sub.params if p.name == "concurrent")
    assert concurrent.default == default


def test_the_installed_deployments_args_parse_on_each_controllers_command() -> None:
    """What `install` puts in each Deployment is accepted by that controller's own command."""
    from headwater.install.manifests import generate
    from headwater.install.options import InstallOptions

    deployments = [o for o in generate(InstallOptions()) if o["kind"] == "Deployment"]
    assert [d["metadata"]["name"] for d in deployments] == ["source-controller", "kustomize-controller",
                                                             "helm-controller"]
    for deployment in deployments:
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[0] == "controller"
        command = controller.get_command(click.Context(controller), args[1])
        assert command is not None, args[1]
        with command.make_context(args[1], list(args[2:])) as ctx:  # a UsageError on an unknown flag
            assert ctx.params["enable_leader_election"] is True



@pytest.mark.parametrize(("command", "args", "qps", "burst"), [
    ("source", [], 50.0, 300),  # Flux's defaults
    ("kustomize", ["--kube-api-qps=7.5", "--kube-api-burst=9"], 7.5, 9),
    ("all", ["--kube-api-qps", "20", "--kube-api-burst", "40"], 20.0, 40),
])
async def test_the_controllers_client_is_paced_by_kube_api_qps_and_burst(
        tmp_path: Path, command: str, args: list[str], qps: float, burst: int) -> None:
    sub = controller.get_command(click.Context(controller), command)
    assert sub is not None
    with sub.make_context(command, ["--kubeconfig", str(unreachable_kubeconfig(tmp_path)), *args]) as ctx:
        params = dict(ctx.params)
    options = ControllerOptions.from_params(params)
    kube = controller_client(str(params["kubeconfig"]), None, "headwater-test", options)
    assert kube.rate_limiter is not None
    assert (kube.rate_limiter.qps, kube.rate_limiter.burst) == (qps, burst)
    # The kustomize controller's clients for spec.kubeConfig clusters get the same limits.
    manager = Manager("test", kube, options)
    await kustomize_setup(SetupContext(manager, kube, options, KustomizeFlags()))
    reconciler = manager.controllers[0].reconciler
    assert isinstance(reconciler, KustomizationReconciler)
    assert (reconciler.remote.qps, reconciler.remote.burst) == (qps, burst)
