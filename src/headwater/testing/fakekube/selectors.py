"""Label and field selectors as the apiserver reads them, for the fake's lists and watches.

Label selectors use the full Kubernetes syntax (the same matcher the drift-ignore rules use); field
selectors are `path=value`, `path==value` and `path!=value` over dotted paths (`metadata.name`,
`involvedObject.name`, `type`), comma-separated, for any kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.apply.drift_ignore import selects
from headwater.runtime.kube.errors import BadRequest


def labels_match(selector: str | None, obj: Mapping[str, Any]) -> bool:
    return selects(selector, (obj.get("metadata") or {}).get("labels") or {})


def _field(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return "" if node is None else str(node)


def fields_match(selector: str | None, obj: Mapping[str, Any]) -> bool:
    for requirement in (selector or "").split(","):
        if not requirement.strip():
            continue
        for op in ("!=", "==", "="):
            path, found, value = requirement.partition(op)
            if found:
                equal = _field(obj, path.strip()) == value.strip()
                if equal != (op != "!="):
                    return False
                break
        else:
            raise BadRequest(400, "BadRequest", f"invalid field selector {requirement!r}")
    return True


__all__ = ["fields_match", "labels_match"]
