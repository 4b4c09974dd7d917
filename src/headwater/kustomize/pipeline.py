"""The build half of a Kustomization reconcile, shared by the controller and `headwater build/diff`.

`flux build kustomization` promises "the manifests as the controller would build them"; the only way to
keep that promise over time is for both to run the same code. The controller fetches an artifact and the
CLI copies a local directory, but from there on the steps are these two functions: `render` (decrypt
generator sources when keys are given, then kustomize with the Kustomization's overlay) and `post_build`
(variable substitution from `postBuild`, with variables read through a caller-supplied lookup, so the
controller reads its informer-backed client and the CLI the user's cluster, or nothing in dry-run).
Both read the Kustomization's spec through its typed view, so the defaults are the API's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from headwater.api.models.kustomize import KustomizationSpec
from headwater.kustomize.build import Built, build
from headwater.kustomize.decryption import decrypt_generator_sources
from headwater.kustomize.sops import KeySet
from headwater.kustomize.substitute import resolve_variables, substitute_from_refs
from headwater.kustomize.typed_substitution import substitute
from headwater.runtime.kube.openapi import OpenAPITypes

SUBSTITUTE_FROM_KINDS = ("ConfigMap", "Secret")

# (kind, name) of a `substituteFrom` entry -> the object in the Kustomization's namespace, or None.
Lookup = Callable[[str, str], Awaitable[Mapping[str, Any] | None]]


class UnsupportedSubstituteKind(Exception):
    """A `substituteFrom` entry of a kind other than ConfigMap or Secret (the spec is wrong: no retry helps)."""


def render(root: Path, spec: KustomizationSpec, *, keys: KeySet | None = None, no_remote_bases: bool = False,
           timeout: float = 120.0, scratch_parent: Path | None = None) -> list[Built]:
    """Build `spec` from the tree at `root` (modified in place): SOPS generator sources, then kustomize
    (its scratch directory in `scratch_parent`).

    Raises `DecryptionError` or `BuildError`, both naming the file or field at fault.
    """
    if keys is not None:
        decrypt_generator_sources(root, keys)
    return build(root, spec, no_remote_bases=no_remote_bases, timeout=timeout, scratch_parent=scratch_parent)


async def post_build(spec: KustomizationSpec, objects: list[dict[str, Any]], lookup: Lookup, *,
                     strict: bool, types: OpenAPITypes) -> list[dict[str, Any]]:
    """`objects` with `spec.postBuild` variables substituted (the objects themselves without postBuild).

    Every `substituteFrom` source is looked up first, in order; raises `UnsupportedSubstituteKind`,
    `SubstitutionError` or `EnvsubstError` (the message names the source, object or variable).
    """
    settings = spec.post_build
    if settings is None or not settings.raw:
        return objects
    fetched: dict[tuple[str, str], Mapping[str, Any] | None] = {}
    for ref in substitute_from_refs(settings):
        if ref.kind not in SUBSTITUTE_FROM_KINDS:
            raise UnsupportedSubstituteKind(f"postBuild.substituteFrom: unsupported kind '{ref.kind}'")
        fetched[(ref.kind, ref.name)] = await lookup(ref.kind, ref.name)
    always = settings.substitute_strategy == "Always"
    variables = resolve_variables(settings, fetched)
    return [await substitute(obj, variables, strict, types, always=always)
            for obj in objects]
