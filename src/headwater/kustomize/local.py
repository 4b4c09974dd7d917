"""Build a Kustomization from a local directory, as the controller would build it from its artifact.

What `headwater build/diff kustomization` need and the controller does not: the Kustomization comes
from the cluster or from a file (`--kustomization-file`), the manifests from a directory on disk that
stands for `spec.path`, and nested Kustomizations can be followed into other local checkouts
(`--recursive --local-sources Kind/ns/name=path`). Everything in between is the controller's own
pipeline (`kustomize.pipeline`): the directory's tree is copied to a scratch directory first, so the
generated or overlaid kustomization.yaml never touches the user's files, and the copy is rooted at the
enclosing Git work tree (or the current directory) so that `../base` references resolve as they do in
the artifact. As in `flux build`, there are no decryption keys: SOPS values are masked, not decrypted;
objects get the owner labels the controller would add.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from headwater.api import safeyaml
from headwater.api.models.kustomize import KustomizationSpec
from headwater.api.validation import UNREADABLE
from headwater.apply.objects import set_owner_labels
from headwater.artifact.ignore import Matcher, read_patterns
from headwater.kustomize.build import KUSTOMIZATION_FILES, BuildError, kustomization_file, local_references
from headwater.kustomize.masking import MaskingError, mask_sops
from headwater.kustomize.pipeline import UnsupportedSubstituteKind, post_build, render
from headwater.kustomize.substitute import EnvsubstError, SubstitutionError
from headwater.runtime.kube.openapi import OpenAPITypes

KS_GROUP = "kustomize.toolkit.fluxcd.io"
KS_API_VERSION = f"{KS_GROUP}/v1"
KS_KIND = "Kustomization"

# (apiVersion, kind, name, namespace) -> the object, or None when it does not exist.
Getter = Callable[[str, str, str, str], Awaitable[dict[str, Any] | None]]


class LocalBuildError(Exception):
    """The local build cannot run or failed; the message names the file, field or object at fault."""


class KustomizationNotFound(LocalBuildError):
    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(f"{KS_KIND} '{namespace}/{name}' not found")


@dataclass(frozen=True)
class Request:
    """What to build: the command line of `build/diff kustomization`."""

    name: str
    namespace: str
    path: Path
    kustomization_file: Path | None = None
    ignore_paths: tuple[str, ...] = ()
    dry_run: bool = False
    strict_substitute: bool = False
    recursive: bool = False
    local_sources: Mapping[str, str] = field(default_factory=dict)
    ignore_not_found: bool = False
    timeout: float = 120.0


@dataclass
class Result:
    """One Kustomization and the objects built for it (nested ones follow their parent)."""

    kustomization: dict[str, Any]
    objects: list[dict[str, Any]]


class _NoSchema(OpenAPITypes):
    """Dry-run has no apiserver to ask for field types: substituted values stay strings."""

    def __init__(self) -> None:
        pass

    async def type_at(self, api_version: str, kind: str, path: Sequence[str | int]) -> str | None:
        return None


# -- the Kustomization ----------------------------------------------------------------------------------


def is_kustomization(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith(KS_GROUP + "/") and obj.get("kind") == KS_KIND


def read_kustomization_file(file: Path, name: str, namespace: str) -> dict[str, Any]:
    """The Kustomization `name` of `file` (namespace `namespace` or none: it then gets `namespace`)."""
    try:
        documents = safeyaml.load_all(file.read_text(), source=str(file))
    except OSError as err:
        raise LocalBuildError(f"failed to read kustomization file {file}: {err.strerror or err}") from err
    except safeyaml.YAMLInputError as err:
        raise LocalBuildError(f"failed to unmarshal kustomization file {file}: {err.detail}") from err
    for doc in documents:
        if not isinstance(doc, dict) or not is_kustomization(doc):
            continue
        meta = doc.get("metadata") or {}
        if meta.get("name") == name and meta.get("namespace") in (namespace, None, ""):
            doc["metadata"] = {**meta, "namespace": namespace}
            if not isinstance(doc.get("spec"), dict):
                raise LocalBuildError(f"kustomization file {file}: {KS_KIND} '{namespace}/{name}' has no spec")
            return doc
    raise LocalBuildError(f"failed to find kustomization with name '{name}' and namespace '{namespace}' "
                          f"in file '{file}'")


async def resolve_kustomization(request: Request, get: Getter | None) -> dict[str, Any]:
    """The Kustomization to build: the file's (with the live status, for its inventory) or the live one."""
    live = None
    if get is not None and not request.dry_run:
        live = await get(KS_API_VERSION, KS_KIND, request.name, request.namespace)
        if live is None and not request.ignore_not_found:
            raise KustomizationNotFound(request.namespace, request.name)
    if request.kustomization_file is not None:
        local = read_kustomization_file(request.kustomization_file, request.name, request.namespace)
        if live is not None and (live.get("status") or {}).get("inventory"):
            local["status"] = live["status"]
        return local
    if live is None:
        raise LocalBuildError("a kustomization file (--kustomization-file) is required without a cluster")
    return live


# -- the manifests --------------------------------------------------------------------------------------


def build_root(path: Path) -> Path:
    """The smallest directory holding `path` and every local file its kustomizations refer to.

    A build may read around `path` (`../base`), up to the enclosing Git work tree, else the current
    directory when it holds `path`, else `path` alone; copying only what the references reach keeps a
    build in a large checkout cheap. A reference beyond that limit is left for the build to refuse.
    """
    path = path.resolve()
    limit = next((c for c in (path, *path.parents) if (c / ".git").exists()), None)
    if limit is None:
        cwd = Path.cwd().resolve()
        limit = cwd if cwd == path or cwd in path.parents else path
    root = path
    while True:
        outside = [t for t in _references(root) if t != root and root not in t.parents]
        if not outside:
            return root
        wider = Path(os.path.commonpath([root, *outside]))
        if wider == root or (wider != limit and limit not in wider.parents):
            return limit
        root = wider


def _references(root: Path) -> list[Path]:
    """Every local path the kustomization files under `root` refer to, resolved."""
    targets: list[Path] = []
    for current, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            if name not in KUSTOMIZATION_FILES:
                continue
            try:
                doc = safeyaml.load(Path(current, name).read_text(), source=name)
            except (OSError, safeyaml.YAMLInputError, UnicodeDecodeError):
                continue  # the build reports it, naming the file
            if isinstance(doc, dict):
                targets += [(Path(current) / ref).resolve() for ref in local_references(doc)]
    return targets


def remove_ignored(directory: Path, patterns: Sequence[str]) -> None:
    """Delete the files `patterns` (.gitignore format, relative to `directory`) exclude from the scan."""
    matcher = Matcher.of(read_patterns("\n".join(patterns)))
    for current, dirs, files in os.walk(directory, topdown=True):
        relative = Path(current).relative_to(directory).parts
        for name in list(dirs):
            if matcher.excludes((*relative, name), True):
                shutil.rmtree(Path(current, name))
                dirs.remove(name)
        for name in files:
            if matcher.excludes((*relative, name), False):
                Path(current, name).unlink()


def render_directory(path: Path, spec: Mapping[str, Any], *, ignore_paths: Sequence[str] = (),
                     timeout: float = 120.0) -> list[dict[str, Any]]:
    """Run the controller's build of `spec` on a scratch copy of the tree around `path`."""
    if not path.is_dir():
        raise LocalBuildError(f"invalid resource path '{path}': not a directory")
    root = build_root(path)
    relative = path.resolve().relative_to(root).as_posix()
    with tempfile.TemporaryDirectory(prefix="hw-build-") as tmp:
        copy = Path(tmp, "src")
        shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        target = copy / relative
        if ignore_paths and kustomization_file(target) is None:  # patterns only shape a generated file
            remove_ignored(target, ignore_paths)
        try:
            built = render(copy, KustomizationSpec({**spec, "path": relative}), timeout=timeout)
        except BuildError as err:
            raise LocalBuildError(str(err)) from err
    return [b.obj for b in built]


async def substitute(kustomization: Mapping[str, Any], objects: list[dict[str, Any]], get: Getter | None,
                     types: OpenAPITypes | None, strict: bool) -> list[dict[str, Any]]:
    """postBuild substitution; without a cluster (`get` None) `substituteFrom` is skipped, as in flux."""
    spec = dict(kustomization.get("spec") or {})
    namespace = str(kustomization["metadata"]["namespace"])
    if get is None and spec.get("postBuild"):
        spec["postBuild"] = {**spec["postBuild"], "substituteFrom": []}

    async def lookup(kind: str, name: str) -> dict[str, Any] | None:
        return await get("v1", kind, name, namespace) if get is not None else None

    try:
        return await post_build(KustomizationSpec(spec), objects, lookup, strict=strict, types=types or _NoSchema())
    except (UnsupportedSubstituteKind, SubstitutionError, EnvsubstError, *UNREADABLE) as err:
        raise LocalBuildError(f"var substitution failed: {err}") from err


def finish(kustomization: Mapping[str, Any], objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SOPS values masked and the owner labels the controller adds when it applies."""
    meta = kustomization["metadata"]
    result = []
    for obj in objects:
        try:
            masked = mask_sops(obj)
        except MaskingError as err:
            raise LocalBuildError(str(err)) from err
        set_owner_labels(masked, str(meta["name"]), str(meta["namespace"]))
        result.append(masked)
    return result


async def build_local(request: Request, get: Getter | None, types: OpenAPITypes | None) -> list[Result]:
    """Build `request` (and with `recursive`, the Kustomizations it contains), parents first."""
    kustomization = await resolve_kustomization(request, get)
    return await _build_tree(request, kustomization, request.path, get, types)


async def _build_tree(request: Request, kustomization: dict[str, Any], path: Path, get: Getter | None,
                      types: OpenAPITypes | None) -> list[Result]:
    spec = kustomization.get("spec") or {}
    objects = await asyncio.to_thread(render_directory, path, spec, ignore_paths=request.ignore_paths,
                                      timeout=request.timeout)
    objects = finish(kustomization, await substitute(kustomization, objects, get, types, request.strict_substitute))
    results = [Result(kustomization, objects)]
    if not request.recursive:
        return results
    own = (kustomization["metadata"]["name"], kustomization["metadata"]["namespace"])
    for obj in objects:
        meta = obj.get("metadata") or {}
        if not is_kustomization(obj) or (meta.get("name"), meta.get("namespace")) == own:
            continue
        nested = obj
        if get is not None and not request.dry_run:
            nested = await get(KS_API_VERSION, KS_KIND, str(meta.get("name")), str(meta.get("namespace"))) or obj
        results += await _build_tree(request, nested, local_path(nested, request.local_sources), get, types)
    return results


def local_path(kustomization: Mapping[str, Any], local_sources: Mapping[str, str]) -> Path:
    """Where a nested Kustomization's `spec.path` is on disk, from `--local-sources`."""
    meta, spec = kustomization.get("metadata") or {}, kustomization.get("spec") or {}
    ref = spec.get("sourceRef") or {}
    key = f"{ref.get('kind', '')}/{ref.get('namespace') or meta.get('namespace', '')}/{ref.get('name', '')}"
    if key not in local_sources:
        raise LocalBuildError(f"cannot get local path for {key} of kustomization {meta.get('name')} "
                              f"(add --local-sources {key}=<path>)")
    return Path(local_sources[key]) / str(spec.get("path") or "./")


def parse_local_sources(values: Sequence[str]) -> dict[str, str]:
    """`Kind/namespace/name=path` items (each value may hold several, comma-separated)."""
    sources: dict[str, str] = {}
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(","))):
            key, sep, path = item.partition("=")
            if not sep or key.count("/") != 2 or not path or not all(key.split("/")):
                raise LocalBuildError(f"--local-sources: '{item}' is not Kind/namespace/name=path")
            sources[key] = path
    return sources


def to_yaml(objects: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML as flux prints it: keys sorted, every document followed by `---`."""
    return "".join(yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False, width=1 << 16,
                                  allow_unicode=True) + "---\n" for obj in objects)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
