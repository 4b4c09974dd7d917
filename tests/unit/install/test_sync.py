"""gotk-sync.yaml and kustomization.yaml as bootstrap writes them."""

from __future__ import annotations

import pytest
import yaml

from headwater.install.sync import SyncError, SyncOptions, kustomization_yaml, sync_objects, sync_yaml

pytestmark = pytest.mark.unit


def test_sync_objects_like_flux() -> None:
    repo, ks = sync_objects(SyncOptions(url="ssh://git@host/fleet.git", branch="prod", path="clusters/eu/",
                                        interval="2m", namespace="ops", secret_name="auth"))
    assert repo["kind"] == "GitRepository"
    assert repo["metadata"] == {"name": "flux-system", "namespace": "ops"}
    assert repo["spec"] == {"interval": "2m0s", "ref": {"branch": "prod"}, "secretRef": {"name": "auth"},
                            "url": "ssh://git@host/fleet.git"}
    assert ks["spec"] == {"interval": "10m0s", "path": "./clusters/eu", "prune": True,
                          "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}
    docs = list(yaml.safe_load_all(sync_yaml(SyncOptions(url="https://h/r"))))
    assert [d["kind"] for d in docs] == ["GitRepository", "Kustomization"]


@pytest.mark.parametrize(("path", "ks_path", "directory"), [
    ("", "./", "flux-system"), ("./", "./", "flux-system"), ("clusters/dev", "./clusters/dev",
                                                              "clusters/dev/flux-system"),
    ("/clusters/dev/", "./clusters/dev", "clusters/dev/flux-system"), ("a/../b", "./b", "b/flux-system"),
])
def test_paths(path: str, ks_path: str, directory: str) -> None:
    opts = SyncOptions(url="u", path=path)
    assert opts.kustomization_path == ks_path
    assert opts.directory == directory


def test_invalid_interval() -> None:
    with pytest.raises(SyncError, match="invalid --interval 'soon'"):
        sync_objects(SyncOptions(url="https://git.example/fleet.git", interval="soon"))


def test_kustomization_file_is_created_or_kept() -> None:
    fresh = kustomization_yaml(None)
    assert yaml.safe_load(fresh)["resources"] == ["gotk-components.yaml", "gotk-sync.yaml"]
    patched = fresh + "patches:\n- path: mine.yaml\n"
    assert kustomization_yaml(patched) == patched  # byte for byte: no commit on a re-run
    partial = "resources:\n- gotk-sync.yaml\n- extra.yaml\npatches:\n- path: mine.yaml\n"
    merged = yaml.safe_load(kustomization_yaml(partial))
    assert merged["resources"] == ["gotk-sync.yaml", "extra.yaml", "gotk-components.yaml"]
    assert merged["patches"] == [{"path": "mine.yaml"}]


@pytest.mark.parametrize(("text", "message"), [
    ("resources: [", "invalid YAML"), ("- a\n", "a mapping"), ("resources: x\n", "not a list"),
])
def test_broken_kustomization_file(text: str, message: str) -> None:
    with pytest.raises(SyncError, match=message):
        kustomization_yaml(text)
