"""An in-memory Kubernetes API for unit tests of reconcile logic: `FakeKube` implements `KubeClient`.

Reconcilers, the Controller, informers, the applier and the event recorder run against it unchanged,
so a test states objects in, runs real code, and reads objects, events and calls out, with no
cluster and no sleeps (`server.settled()` waits until every informer has seen every change).

    fake = FakeKube()
    fake.server.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {...}})
    ...  # run the code under test with `fake` as its KubeClient
    fake.server.get_object("v1", "ConfigMap", "name", "namespace")
    fake.server.events(name="my-kustomization")

What it models and what it does not: `headwater.testing.fakekube.server` (objects, resourceVersions,
generations, finalizers, status subresources, watches) and `.patches` (merge, JSON patch, server-side
apply as a merge).
"""

from __future__ import annotations

from headwater.testing.fakekube.client import FakeKube, fake_kube
from headwater.testing.fakekube.server import Call, FakeApiServer, Fault, StatusHook

__all__ = ["Call", "FakeApiServer", "FakeKube", "Fault", "StatusHook", "fake_kube"]
