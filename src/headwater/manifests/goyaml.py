"""YAML the way flux prints `--export` output.

flux's `printExport` marshals with sigs.k8s.io/yaml, which goes through JSON into go-yaml v2: keys come
out sorted, nested sequences are not indented, multi-line strings are literal blocks, and strings that
would read as another type are double-quoted; each object is preceded by `---` and followed by a blank
line (flux prints with Println).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml


class _GoYamlDumper(yaml.SafeDumper):
    """PyYAML configured to emit what go-yaml v2 emits for sigs.k8s.io/yaml output."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    tag = "tag:yaml.org,2002:str"
    if "\n" in value:
        return dumper.represent_scalar(tag, value, style="|")
    resolved: str = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if resolved != tag:
        return dumper.represent_scalar(tag, value, style='"')
    return dumper.represent_scalar(tag, value)


_GoYamlDumper.add_representer(str, _represent_str)


def dump(obj: Mapping[str, Any]) -> str:
    """One object as sorted-key YAML (no document marker)."""
    return yaml.dump(dict(obj), Dumper=_GoYamlDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=80)


def to_yaml(objects: Iterable[Mapping[str, Any]]) -> str:
    """Objects as flux's `--export` prints them: `---`, the object, a blank line, for each."""
    return "".join(f"---\n{dump(obj)}\n" for obj in objects)
