"""The CRDs of the selected components, generated in memory from `headwater.api`.

The committed `config/crd/` files are not part of the installed package, so `install` builds the same
manifests from the kind definitions, keeping the kinds of the selected components (`KindDef.component`:
image-reflector and image-automation share a group but not their CRDs) and stamping the installation's
labels on them (flux's `check` and `uninstall` find CRDs by `part-of`).
"""

from __future__ import annotations

from typing import Any

from headwater.install.options import Component, InstallOptions, common_labels


def crds(opts: InstallOptions, components: list[Component]) -> list[dict[str, Any]]:
    from headwater.api.crd import crd_manifest
    from headwater.api.kinds import ALL_KINDS

    selected = {component.name for component in components}
    out: list[dict[str, Any]] = []
    for kind in ALL_KINDS:
        if kind.component not in selected:
            continue
        manifest = crd_manifest(kind)
        labels = manifest["metadata"].setdefault("labels", {})
        labels.update(common_labels(opts))
        labels.setdefault("app.kubernetes.io/component", kind.component)
        out.append(manifest)
    return out
