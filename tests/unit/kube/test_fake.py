"""The in-memory fake apiserver answers as the real one does where reconcile logic depends on it.

Each case states objects in the fake, one call, and what must come out (or which error class): so a
reconcile test run against the fake can trust resourceVersions, generations, status subresources,
finalizers, apply and watches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from headwater.runtime.kube import AlreadyExists, Conflict, Gone, Impersonation, Invalid, KubeError, NotFound
from headwater.runtime.kube.errors import Forbidden, UnknownKind
from headwater.runtime.kube.openapi import OpenAPITypes
from headwater.testing.fakekube import FakeKube

pytestmark = pytest.mark.unit
Obj = dict[str, Any]
GIT = "source.toolkit.fluxcd.io/v1"


def cm(name: str = "cm", namespace: str = "apps", **extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"a": "1"}, **extra}


def repo(name: str = "repo", **meta: Any) -> Obj:
    return {"apiVersion": GIT, "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "apps", **meta},
            "spec": {"url": "https://example.invalid/r.git", "interval": "1m"},
            "status": {"observedGeneration": 1}}


Step = Callable[[FakeKube], Awaitable[Any]]


async def patch_spec(fake: FakeKube) -> Any:
    return await fake.patch(GIT, "GitRepository", "repo", {"spec": {"interval": "2m"}}, namespace="apps")


async def patch_label(fake: FakeKube) -> Any:
    return await fake.patch(GIT, "GitRepository", "repo", {"metadata": {"labels": {"a": "b"}}}, namespace="apps")


async def patch_status(fake: FakeKube) -> Any:
    return await fake.patch_status(repo(), {"observedGeneration": 7})


async def same_status(fake: FakeKube) -> Any:
    return await fake.patch_status(repo(), {"observedGeneration": 1})


async def status_through_main(fake: FakeKube) -> Any:
    return await fake.patch(GIT, "GitRepository", "repo", {"status": {"observedGeneration": 9}}, namespace="apps")


async def stale_patch(fake: FakeKube) -> Any:
    return await fake.patch(GIT, "GitRepository", "repo", {"metadata": {"resourceVersion": "0", "labels": {"a": "b"}}},
                            namespace="apps")


async def json_patch(fake: FakeKube) -> Any:
    return await fake.patch(GIT, "GitRepository", "repo", [
        {"op": "add", "path": "/metadata/annotations", "value": {"x/y": "1"}},
        {"op": "replace", "path": "/spec/interval", "value": "5m"},
        {"op": "remove", "path": "/metadata/annotations/x~1y"}], namespace="apps", patch_type="json")


async def delete_with_finalizer(fake: FakeKube) -> Any:
    return await fake.delete(GIT, "GitRepository", "repo", "apps")


async def delete_then_release(fake: FakeKube) -> Any:
    await fake.delete(GIT, "GitRepository", "repo", "apps")
    return await fake.patch(GIT, "GitRepository", "repo", {"metadata": {"finalizers": None}}, namespace="apps")


async def delete_wrong_uid(fake: FakeKube) -> Any:
    return await fake.delete(GIT, "GitRepository", "repo", "apps", uid="someone-else")


async def update_stale(fake: FakeKube) -> Any:
    current = await fake.get(GIT, "GitRepository", "repo", "apps")
    await patch_label(fake)
    return await fake.replace(current)


async def create_again(fake: FakeKube) -> Any:
    return await fake.create(repo())


async def get_missing(fake: FakeKube) -> Any:
    return await fake.get("v1", "ConfigMap", "missing", "apps")


async def get_without_namespace(fake: FakeKube) -> Any:
    return await fake.get(GIT, "GitRepository", "repo")


async def unknown_kind(fake: FakeKube) -> Any:
    return await fake.get("example.com/v1", "Widget", "w", "apps")


async def status_of_configmap(fake: FakeKube) -> Any:
    return await fake.patch_status(cm(), {"x": 1})


async def create_without_name(fake: FakeKube) -> Any:
    return await fake.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "apps"}})


# (case, seeded objects, the call, expected error class or None, expected fields of the stored object)
CASES: list[tuple[str, list[Obj], Step, type[KubeError] | None, dict[str, Any]]] = [
    ("a spec change moves generation and resourceVersion", [repo()], patch_spec, None,
     {"generation": 2, "resourceVersion": "2", "interval": "2m"}),
    ("a label change moves only the resourceVersion", [repo()], patch_label, None,
     {"generation": 1, "resourceVersion": "2"}),
    ("a status write changes status only", [repo()], patch_status, None,
     {"generation": 1, "resourceVersion": "2", "observedGeneration": 7}),
    ("the same status again is no write at all", [repo()], same_status, None,
     {"resourceVersion": "1", "observedGeneration": 1}),
    ("status sent to the object is ignored", [repo()], status_through_main, None,
     {"resourceVersion": "1", "observedGeneration": 1}),
    ("a stale resourceVersion in a patch conflicts", [repo()], stale_patch, Conflict, {"resourceVersion": "1"}),
    ("a stale update conflicts", [repo()], update_stale, Conflict, {"resourceVersion": "2"}),
    ("a JSON patch applies in order", [repo()], json_patch, None,
     {"generation": 2, "interval": "5m", "annotations": {}}),
    ("deleting with a finalizer marks deletion", [repo(finalizers=["f"])], delete_with_finalizer, None,
     {"generation": 2, "deleting": True}),
    ("removing the last finalizer removes the object", [repo(finalizers=["f"])], delete_then_release, None,
     {"gone": True}),
    ("a delete with another UID conflicts", [repo()], delete_wrong_uid, Conflict, {"resourceVersion": "1"}),
    ("creating an existing object", [repo()], create_again, AlreadyExists, {"resourceVersion": "1"}),
    ("a missing object", [repo()], get_missing, NotFound, {}),
    ("a namespaced get without namespace", [repo()], get_without_namespace, NotFound, {}),
    ("a kind nobody serves", [repo()], unknown_kind, UnknownKind, {}),
    ("a kind without status subresource", [cm()], status_of_configmap, NotFound, {}),
    ("a nameless object", [], create_without_name, Invalid, {}),
]


def summary(obj: Obj | None) -> dict[str, Any]:
    if obj is None:
        return {"gone": True}
    meta = obj["metadata"]
    return {"generation": meta.get("generation"), "resourceVersion": meta.get("resourceVersion"),
            "interval": (obj.get("spec") or {}).get("interval"), "annotations": meta.get("annotations"),
            "observedGeneration": (obj.get("status") or {}).get("observedGeneration"),
            "deleting": bool(meta.get("deletionTimestamp")), "gone": False}


@pytest.mark.parametrize(("seeded", "step", "error", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_writes(seeded: list[Obj], step: Step, error: type[KubeError] | None, expected: dict[str, Any]) -> None:
    fake = FakeKube()
    for obj in seeded:
        fake.server.put(obj)
    if error is None:
        await step(fake)
    else:
        with pytest.raises(error):
            await step(fake)
    stored = fake.server.get_object(GIT, "GitRepository", "repo", "apps") if seeded else None
    found = summary(stored)
    assert {k: found.get(k) for k in expected} == expected


APPLY_CASES: list[tuple[str, Obj | None, Obj, bool, dict[str, Any]]] = [
    ("creates what is absent", None, cm(), False, {"rv": "1", "data": {"a": "1"}, "stored": True}),
    ("a dry-run of an absent object has no resourceVersion", None, cm(), True, {"rv": None, "stored": False}),
    ("a dry-run merges without storing", cm(), cm(data={"b": "2"}), True,
     {"rv": "1", "data": {"b": "2"}, "stored_data": {"a": "1"}}),
    ("an unchanged apply writes nothing", cm(), cm(), False, {"rv": "1", "data": {"a": "1"}}),
    ("a field the manager stops applying is removed", cm(), cm(data={"b": "2"}), False,
     {"rv": "2", "data": {"b": "2"}}),
]


@pytest.mark.parametrize(("live", "applied", "dry_run", "expected"), [c[1:] for c in APPLY_CASES],
                         ids=[c[0] for c in APPLY_CASES])
async def test_server_side_apply_as_a_merge(live: Obj | None, applied: Obj, dry_run: bool,
                                            expected: dict[str, Any]) -> None:
    fake = FakeKube()
    if live is not None:
        await fake.apply(live, field_manager="me")
    result = await fake.apply(applied, field_manager="me", dry_run=dry_run)
    stored = fake.server.get_object("v1", "ConfigMap", "cm", "apps")
    found = {"rv": result["metadata"].get("resourceVersion"), "data": result.get("data"), "stored": stored is not None,
             "stored_data": (stored or {}).get("data")}
    assert {k: found[k] for k in expected} == expected


async def test_someone_elses_fields_survive_an_apply() -> None:
    fake = FakeKube()
    fake.server.put(cm(data={"theirs": "x"}))
    await fake.apply(cm(data={"mine": "1"}), field_manager="me")
    await fake.apply(cm(data={"mine": "2"}), field_manager="me")
    assert fake.server.get_object("v1", "ConfigMap", "cm", "apps")["data"] == {"theirs": "x", "mine": "2"}  # type: ignore[index]


LIST_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("everything in a namespace", {"namespace": "apps"}, ["a", "b", "c"]),
    ("all namespaces", {}, ["a", "b", "c", "d"]),
    ("equality selector", {"label_selector": "tier=web"}, ["a", "d"]),
    ("set selector", {"label_selector": "tier in (db,cache)"}, ["b"]),
    ("absence", {"label_selector": "!tier", "namespace": "apps"}, ["c"]),
    ("field selector", {"field_selector": "metadata.name!=a,metadata.namespace=apps"}, ["b", "c"]),
]


@pytest.mark.parametrize(("query", "names"), [c[1:] for c in LIST_CASES], ids=[c[0] for c in LIST_CASES])
async def test_list_selectors(query: dict[str, Any], names: list[str]) -> None:
    fake = FakeKube()
    for name, namespace, labels in [("a", "apps", {"tier": "web"}), ("b", "apps", {"tier": "db"}), ("c", "apps", {}),
                                    ("d", "other", {"tier": "web"})]:
        fake.server.put({**cm(name, namespace), "metadata": {"name": name, "namespace": namespace, "labels": labels}})
    namespace = query.pop("namespace", None)
    listed = await fake.list("v1", "ConfigMap", namespace, **query)
    assert [o["metadata"]["name"] for o in listed["items"]] == names
    assert listed["metadata"]["resourceVersion"] == "4"


async def test_list_pages_and_the_resource_version_to_watch_from() -> None:
    fake = FakeKube()
    for name in "abcde":
        fake.server.put(cm(name))
    first = await fake.list("v1", "ConfigMap", "apps", limit=2)
    assert [o["metadata"]["name"] for o in first["items"]] == ["a", "b"]
    rest = await fake.list("v1", "ConfigMap", "apps", limit=10, continue_token=first["metadata"]["continue"])
    assert [o["metadata"]["name"] for o in rest["items"]] == ["c", "d", "e"]
    items, version = await fake.list_all("v1", "ConfigMap", "apps")
    assert (len(items), version) == (5, "5")


async def test_watch_replays_from_a_resource_version_and_follows_selectors() -> None:
    fake = FakeKube()
    fake.server.put(cm("a"))
    fake.server.put({**cm("b"), "metadata": {"name": "b", "namespace": "apps", "labels": {"x": "1"}}})
    stream = fake.watch("v1", "ConfigMap", "apps", resource_version="1", label_selector="x=1")
    first = await anext(stream)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "b")
    await fake.patch("v1", "ConfigMap", "a", {"metadata": {"labels": {"x": "1"}}}, namespace="apps")  # now matches
    await fake.patch("v1", "ConfigMap", "b", {"metadata": {"labels": {"x": "2"}}}, namespace="apps")  # no more
    await fake.delete("v1", "ConfigMap", "a", "apps")
    fake.server.end_watches()
    rest = [(e["type"], e["object"]["metadata"]["name"]) async for e in stream]
    assert rest == [("ADDED", "a"), ("DELETED", "b"), ("DELETED", "a")]
    assert fake.server.watches == []


async def test_watch_without_a_resource_version_starts_with_what_exists() -> None:
    fake = FakeKube()
    fake.server.put(cm("a"))
    stream = fake.watch("v1", "ConfigMap", "apps")
    assert (await anext(stream))["type"] == "ADDED"
    await stream.aclose()
    assert fake.server.watches == []


async def test_an_expired_resource_version_is_gone() -> None:
    fake = FakeKube()
    fake.server.put(cm("a"))
    fake.server.put(cm("b"))
    fake.server.compact()
    with pytest.raises(Gone):
        await anext(fake.watch("v1", "ConfigMap", "apps", resource_version="1"))
    stream = fake.watch("v1", "ConfigMap", "apps", resource_version="2")
    fake.server.put(cm("c"))
    assert (await anext(stream))["object"]["metadata"]["name"] == "c"
    fake.server.expire_watches()
    with pytest.raises(Gone):
        await anext(stream)
    assert fake.server.watches == []


async def test_settled_waits_until_the_watcher_has_handled_every_event() -> None:
    fake = FakeKube()
    handled: list[str] = []
    stream = fake.watch("v1", "ConfigMap", "apps", resource_version="0")

    async def consume() -> None:
        async for event in stream:
            handled.append(event["object"]["metadata"]["name"])

    task = asyncio.create_task(consume())
    await fake.server.watching("v1", "ConfigMap")
    for name in "abc":
        fake.server.put(cm(name))
    await fake.server.settled()
    assert handled == ["a", "b", "c"]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert fake.server.watches == []


async def test_crds_add_kinds_and_namespaces_are_active() -> None:
    fake = FakeKube()
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}]}}
    await fake.apply(crd, field_manager="me")
    assert (await fake.resource("example.com/v1", "Widget")).plural == "widgets"
    await fake.create({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "a"}})
    established = await fake.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com")
    assert {c["type"]: c["status"] for c in established["status"]["conditions"]}["Established"] == "True"
    await fake.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com")
    with pytest.raises(UnknownKind):
        await fake.resource("example.com/v1", "Widget")
    namespace = await fake.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})
    assert namespace["status"]["phase"] == "Active"


async def test_faults_match_the_identity_and_calls_are_logged() -> None:
    fake = FakeKube()
    tenant = fake.impersonating(Impersonation.service_account("apps", "tenant"))
    fake.server.fail("create", Forbidden(403, "Forbidden", "no"), user="system:serviceaccount:apps:tenant", times=None)
    with pytest.raises(Forbidden):
        await tenant.create(cm())
    await fake.create(cm())
    assert [(c.verb, c.user) for c in fake.server.calls] == [
        ("create", "system:serviceaccount:apps:tenant"), ("create", "admin")]


async def test_events_are_never_lost_to_a_name_clash() -> None:
    fake = FakeKube()
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "x.1", "namespace": "apps"},
             "involvedObject": {"name": "x"}, "reason": "R"}
    await fake.create(event)
    await fake.create(event)
    assert [e["reason"] for e in fake.server.events(name="x")] == ["R", "R"]


@pytest.mark.parametrize(("api_version", "kind", "path", "expected"), [
    ("apps/v1", "Deployment", ["spec", "replicas"], "integer"),
    ("apps/v1", "Deployment", ["spec", "template", "spec", "containers", 0, "image"], "string"),
    ("v1", "Service", ["spec", "ports", 0, "targetPort"], "int-or-string"),
    ("v1", "ConfigMap", ["data", "anything"], "string"),
    ("v1", "Secret", ["metadata", "labels", "x"], "string"),
    ("v1", "ConfigMap", ["nothing"], None),
])
async def test_openapi_field_types(api_version: str, kind: str, path: list[str | int], expected: str | None) -> None:
    assert await OpenAPITypes(FakeKube()).type_at(api_version, kind, path) == expected


async def test_cluster_scoped_kinds_ignore_a_namespace() -> None:
    fake = FakeKube()
    await fake.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "namespace": "x"}})
    listed = await fake.list("v1", "Namespace", "apps")
    assert [o["metadata"].get("namespace") for o in listed["items"]] == [None]
    assert (await fake.get("v1", "Namespace", "n", "apps"))["metadata"]["name"] == "n"
