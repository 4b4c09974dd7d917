"""Inventory entries (`status.inventory`), built from change sets, and stale-object detection."""

from __future__ import annotations

import pytest

from headwater.apply import inventory
from headwater.apply.inventory import InventoryEntry
from headwater.apply.objects import Action, ChangeSet, ChangeSetEntry, ObjMetadata

pytestmark = pytest.mark.unit


def change_set(*items: tuple[str, str, Action]) -> ChangeSet:
    return ChangeSet([ChangeSetEntry(ObjMetadata.parse(object_id), version, action)
                      for object_id, version, action in items])


def test_inventory_from_change_set_keeps_every_entry_in_order() -> None:
    cs = change_set(
        ("_apps__Namespace", "v1", Action.CREATED),
        ("apps_web_apps_Deployment", "v1", Action.UNCHANGED),
        ("apps_pinned__ConfigMap", "v1", Action.SKIPPED),
    )
    entries = inventory.from_change_set(cs)
    assert inventory.to_status(entries) == {"entries": [
        {"id": "_apps__Namespace", "v": "v1"},
        {"id": "apps_web_apps_Deployment", "v": "v1"},
        {"id": "apps_pinned__ConfigMap", "v": "v1"},
    ]}


def test_parse_stored_inventory() -> None:
    stored = {"entries": [{"id": "flux-system_podinfo_apps_Deployment", "v": "v1"},
                          {"id": "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition", "v": "v1"}]}
    entries = inventory.parse(stored)
    assert entries[0] == InventoryEntry("flux-system_podinfo_apps_Deployment", "v1")
    assert entries[0].api_version == "apps/v1"
    assert entries[0].subject == "Deployment/flux-system/podinfo"
    assert entries[1].api_version == "apiextensions.k8s.io/v1"
    assert entries[1].subject == "CustomResourceDefinition/widgets.example.com"
    assert inventory.parse(None) == []
    assert inventory.parse({}) == []
    core = InventoryEntry("_podinfo__Namespace", "v1")
    assert core.api_version == "v1"
    assert core.meta == ObjMetadata("", "podinfo", "", "Namespace")


def test_entry_of_an_object() -> None:
    entry = InventoryEntry.of({"apiVersion": "example.com/v1beta2", "kind": "Widget",
                               "metadata": {"name": "w", "namespace": "team"}})
    assert entry == InventoryEntry("team_w_example.com_Widget", "v1beta2")


def test_diff_finds_stale_objects_by_identity_not_version() -> None:
    old = inventory.parse({"entries": [
        {"id": "apps_web_apps_Deployment", "v": "v1"},
        {"id": "apps_old__ConfigMap", "v": "v1"},
        {"id": "_apps__Namespace", "v": "v1"},
        {"id": "apps_hook_admissionregistration.k8s.io_ValidatingWebhookConfiguration", "v": "v1"},
        {"id": "apps_w_example.com_Widget", "v": "v1alpha1"},
        {"id": "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition", "v": "v1"},
    ]})
    new = inventory.parse({"entries": [
        {"id": "apps_web_apps_Deployment", "v": "v2"},  # a version change is not staleness
        {"id": "apps_w_example.com_Widget", "v": "v1"},
        {"id": "apps_new__ConfigMap", "v": "v1"},
    ]})
    stale = inventory.diff(old, new)
    assert [e.id for e in stale] == [  # in Flux's kind order
        "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition",
        "_apps__Namespace",
        "apps_old__ConfigMap",
        "apps_hook_admissionregistration.k8s.io_ValidatingWebhookConfiguration",
    ]
    assert inventory.diff(new, new) == []
    assert inventory.diff([], new) == []


def test_merge_re_tracks_failed_prunes_once() -> None:
    current = [InventoryEntry("apps_web_apps_Deployment", "v1")]
    failed = [InventoryEntry("apps_old__ConfigMap", "v1"), InventoryEntry("apps_web_apps_Deployment", "v2")]
    assert inventory.merge(current, failed) == [InventoryEntry("apps_web_apps_Deployment", "v1"),
                                                InventoryEntry("apps_old__ConfigMap", "v1")]


def test_from_objects_deduplicates() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    assert inventory.from_objects([cm, cm]) == [InventoryEntry("n_c__ConfigMap", "v1")]
