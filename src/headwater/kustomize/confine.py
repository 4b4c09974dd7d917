"""Every file a build reaches stays inside the artifact: the reference check before kustomize runs.

Why our own check when kustomize has load restrictions: Flux builds with `LoadRestrictionsNone` (a
patch in a parent directory of an overlay is common and must keep working), and a repository is hostile
input. So before kustomize runs, this module walks what the Kustomization's `spec.path` builds — and
only that, so a bad file elsewhere in the artifact does not break Kustomizations at other paths — and
refuses any reference that leaves the artifact root, naming the file and the field:

- every path field of a kustomization file (`resources`, `bases`, `components`, `crds`,
  `configurations`, `patchesStrategicMerge`, `patches`, `patchesJson6902`, `replacements`, `openapi`,
  and the `files`/`envs`/`env` of `configMapGenerator` and `secretGenerator`);
- the generator, transformer and validator configurations under `generators`, `transformers`,
  `validators`, whether a file, a directory (a kustomization listing configurations) or an inline
  document: the builtin kinds' path fields are checked, any other kind is a plugin and refused;
- `helmCharts` and `helmGlobals` are refused: Helm is off in builds, as in Flux.

Remote references (any URL form) are refused under `--no-remote-bases`; `file://` always, since a
"remote" on the controller's disk is a file escape. Every YAML file reached is parsed through
`headwater.api.safeyaml`, so an alias bomb or deep nesting is refused here, naming the file, before
kustomize reads it. The kustomize child is additionally confined by Landlock (`kustomize.sandbox`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.api import safeyaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml", ".json")
DIRECTORY_FIELDS = ("resources", "bases", "components")
FILE_LIST_FIELDS = ("crds", "configurations", "patchesStrategicMerge")
PATH_OBJECT_FIELDS = ("patches", "patchesJson6902", "replacements")
CONFIG_FIELDS = ("generators", "transformers", "validators")
HELM_FIELDS = ("helmCharts", "helmGlobals", "helmChartInflationGenerator")
REMOTE_HOSTS = ("github.com/", "gitlab.com/", "bitbucket.org/", "dev.azure.com/")
#: Deepest chain of kustomizations (each listing the next as a resource) a build may reach.
MAX_NESTING = 100
GO_GETTER = re.compile(r"\?(ref|version|submodules|timeout)=|^[\w.-]+\.\w+(:\d+)?/.*\.git(/|$)")


class ConfinementError(Exception):
    """A build input refers outside the artifact, to a remote, or to a disabled feature."""

    reason = "BuildFailed"


def is_remote(ref: str) -> bool:
    """Whether kustomize would fetch `ref` instead of reading a local file (every URL form)."""
    text = ref.strip()
    return ("://" in text or text.startswith(("git::", "git@", *REMOTE_HOSTS))
            or GO_GETTER.search(text) is not None or re.match(r"^[\w.-]+@[\w.-]+:", text) is not None)


def is_remote_reference(item: str, base: Path) -> bool:
    """Whether kustomize would fetch `item`, listed in a kustomization in `base`: every URL form, and a
    host path such as `example.com/org/repo//dir?ref=v1` that is not a local file or directory."""
    if is_remote(item):
        return True
    if "\0" in item or _exists(base / item):
        return False
    host = item.split("/", 1)[0].strip(".")
    return "?" in item or "//" in item or ("/" in item and "." in host)


@dataclass
class Walk:
    """One walk over what a build reaches, from the directory `spec.path` names."""

    root: Path
    no_remote_bases: bool
    visited: set[tuple[Path, bool]] = field(default_factory=set)
    depth: int = 0

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    def name(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix() or "."
        except (ValueError, OSError, RuntimeError):  # outside the root, or a loop of symlinks
            return str(path)

    def inside(self, base: Path, ref: str, file: Path, where: str) -> Path:
        """`ref` resolved against `base` (symlinks followed); refused when it leaves the root, or when it is
        no path at all (a NUL, a name the kernel refuses, a symlink loop)."""
        if "\0" in ref:
            raise ConfinementError(f"{self.name(file)}: {where} {_shown(ref)} is not a path (it contains a NUL)")
        try:
            target = (base / ref.strip()).resolve()
        except (OSError, RuntimeError) as err:  # ENAMETOOLONG, ELOOP; Python 3.11 raises RuntimeError on loops
            raise ConfinementError(f"{self.name(file)}: {where} {_shown(ref)} cannot be resolved: "
                                   f"{getattr(err, 'strerror', None) or err}") from None
        if target != self.root and self.root not in target.parents:
            raise ConfinementError(f"{self.name(file)}: {where} '{ref}' points outside the artifact")
        return target

    def remote(self, ref: str, file: Path, where: str) -> bool:
        """True (and allowed) for a remote reference Flux would fetch; raises when it is refused."""
        if not is_remote_reference(ref, file.parent):
            return False
        if self.no_remote_bases:
            raise ConfinementError(f"{self.name(file)}: {where} '{ref}' is a remote base, which is not allowed "
                                   "(--no-remote-bases)")
        if ref.strip().lower().startswith("file:"):
            raise ConfinementError(f"{self.name(file)}: {where} '{ref}' is a file:// URL, which is not allowed")
        return True

    def directory(self, directory: Path, *, configs: bool = False) -> None:
        """A kustomization directory (reached from `spec.path`, `resources`, or a config list)."""
        try:
            directory = directory.resolve()
        except (OSError, RuntimeError):  # a loop of symlinks is no directory to build
            return
        if (directory, configs) in self.visited:
            return
        self.visited.add((directory, configs))
        found = next((directory / n for n in KUSTOMIZATION_FILES if _is_file(directory / n)), None)
        if found is None:
            return
        if self.depth >= MAX_NESTING:  # the walk recurses per level: bound it before Python's stack does
            raise ConfinementError(f"{self.name(found)}: kustomizations nest deeper than {MAX_NESTING} levels")
        self.depth += 1
        try:
            self.kustomization(found, configs=configs)
        finally:
            self.depth -= 1

    def kustomization(self, file: Path, *, configs: bool = False) -> None:
        doc = safeyaml.load(read(file, self), source=self.name(file))
        if not isinstance(doc, dict):
            return
        base = file.parent
        for name in HELM_FIELDS:
            if doc.get(name):
                raise ConfinementError(f"{self.name(file)}: {name} is not supported (Helm is disabled in builds)")
        for name in DIRECTORY_FIELDS:
            for item in strings(doc.get(name)):
                if self.remote(item, file, name):
                    continue
                target = self.inside(base, item, file, name)
                if _is_dir(target):
                    self.directory(target, configs=configs)
                elif _is_file(target):
                    self.manifest(target, configs=configs)
        for name in FILE_LIST_FIELDS:
            for item in strings(doc.get(name)):
                if name == "patchesStrategicMerge" and "\n" in item:
                    continue  # an inline patch, not a file
                if not self.remote(item, file, name):
                    self.file(self.inside(base, item, file, name))
        for name in PATH_OBJECT_FIELDS:
            for item in items(doc.get(name)):
                if isinstance(item, dict) and isinstance(item.get("path"), str):
                    self.file(self.inside(base, item["path"], file, f"{name}.path"))
        openapi = doc.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            self.file(self.inside(base, openapi["path"], file, "openapi.path"))
        for name in ("configMapGenerator", "secretGenerator"):
            for generator in items(doc.get(name)):
                if isinstance(generator, dict):
                    self.generator_files(generator, base, file, name)
        for name in CONFIG_FIELDS:
            for item in strings(doc.get(name)):
                if "\n" in item:
                    for config in safeyaml.load_all(item, source=f"{self.name(file)} ({name}, inline)"):
                        self.config(config, base, file, name)
                elif not self.remote(item, file, name):
                    target = self.inside(base, item, file, name)
                    if _is_dir(target):
                        self.directory(target, configs=True)
                    elif _is_file(target):
                        self.configs_in(target, base, name)

    def manifest(self, path: Path, *, configs: bool) -> None:
        """A resource file: parsed within bounds; inside a config directory, its objects are configs."""
        if path.suffix not in YAML_SUFFIXES:
            return
        if configs:
            self.configs_in(path, path.parent, "resources")
        else:
            safeyaml.load_all(read(path, self), source=self.name(path))

    def configs_in(self, path: Path, base: Path, where: str) -> None:
        for config in safeyaml.load_all(read(path, self), source=self.name(path)):
            self.config(config, base, path, where)

    def config(self, config: Any, base: Path, file: Path, where: str) -> None:
        """A generator/transformer/validator configuration: builtin kinds only, their paths inside."""
        if not isinstance(config, dict):
            return
        kind, api_version = str(config.get("kind") or ""), str(config.get("apiVersion") or "")
        metadata = config.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        annotations = annotations if isinstance(annotations, dict) else {}
        if any(key in annotations for key in ("config.kubernetes.io/function", "config.k8s.io/function")):
            raise ConfinementError(f"{self.name(file)}: {where} {kind or 'entry'} is a KRM function, and "
                                   "functions are disabled in builds")
        if api_version != "builtin" and not api_version.startswith("builtin/"):
            raise ConfinementError(f"{self.name(file)}: {where} {kind or 'entry'} (apiVersion '{api_version}') "
                                   "is a kustomize plugin, and plugins are disabled in builds")
        if kind == "HelmChartInflationGenerator":
            raise ConfinementError(f"{self.name(file)}: {where} {kind} is not supported (Helm is disabled in builds)")
        # A config's paths are relative to the kustomization that lists it; the config's own directory is
        # checked as well, so neither reading lets a path out.
        bases = [base] if base == file.parent else [base, file.parent]
        for anchor in bases:
            if kind in ("ConfigMapGenerator", "SecretGenerator"):
                self.generator_files(config, anchor, file, f"{where} {kind}")
            for key in ("path", "paths"):
                for item in strings(config.get(key)) if key == "paths" else strings([config.get(key)]):
                    self.file(self.inside(anchor, item, file, f"{where} {kind} {key}"))
            for replacement in items(config.get("replacements")):
                if isinstance(replacement, dict) and isinstance(replacement.get("path"), str):
                    self.file(self.inside(anchor, replacement["path"], file, f"{where} {kind} replacements.path"))

    def generator_files(self, generator: dict[str, Any], base: Path, file: Path, where: str) -> None:
        for item in strings(generator.get("files")):
            path = item.partition("=")[2] if "=" in item else item
            self.inside(base, path, file, f"{where} files")
        for item in [*strings(generator.get("envs")), *strings([generator.get("env")])]:
            self.inside(base, item, file, f"{where} envs")

    def file(self, path: Path) -> None:
        """A referenced YAML file (patch, CRD, configuration): parsed within bounds."""
        if _is_file(path) and path.suffix in YAML_SUFFIXES:
            safeyaml.load_all(read(path, self), source=self.name(path))


def strings(value: Any) -> list[str]:
    return [item for item in value or [] if isinstance(item, str) and item] if isinstance(value, list) else []


def items(value: Any) -> list[Any]:
    """A list field as written, or nothing (kustomize refuses other types itself, after our check)."""
    return value if isinstance(value, list) else []


def _shown(ref: str) -> str:
    return repr(ref) if len(ref) <= 100 else f"{ref[:100]!r}... ({len(ref)} characters)"


# A repository names files the kernel may refuse (too long, a loop of symlinks): for the walk such a
# name is simply not a file or directory; `inside` reports it when it matters.
def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def read(path: Path, walk: Walk) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfinementError(f"{walk.name(path)}: not UTF-8 text") from err
    except OSError as err:
        raise ConfinementError(f"{walk.name(path)}: cannot be read: {err.strerror or err}") from err


def check_build(root: Path, directory: Path, *, no_remote_bases: bool) -> None:
    """Refuse the build of `directory` when anything it reaches leaves `root` (see the module doc)."""
    Walk(root, no_remote_bases).directory(directory)
