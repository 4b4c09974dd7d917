"""YAML reading and writing with Kubernetes conventions and a canonical output style.

Why not plain ``yaml.safe_load``?  PyYAML turns unquoted timestamps into ``datetime``
objects, but Kubernetes treats them as strings (``lastTransitionTime``, ``lastUpdateTime``);
keeping them as strings is what makes a manifest round-trip unchanged.  Loading uses the
libyaml parser when available (it is several times faster).

The writer has one canonical style so that ``dump(load(text)) == text`` for manifests kept
in that style: key order preserved, 2-space indentation with indented block sequences,
multi-line strings as literal blocks, no line folding.  Timestamps are single-quoted when
written so that other YAML 1.1 readers see strings too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that keeps timestamps as strings."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class Dumper(yaml.SafeDumper):
    """Safe dumper with indented sequences and literal blocks for multi-line strings."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


Dumper.add_representer(str, _represent_str)


def load(text: str) -> Any:
    """Parse a single YAML document."""
    return yaml.load(text, Loader=Loader)


def load_all(text: str) -> Iterator[Any]:
    """Parse every document of a multi-document stream, skipping empty ones."""
    for document in yaml.load_all(text, Loader=Loader):
        if document is not None:
            yield document


def dump(document: Any) -> str:
    """Serialise one document in the canonical style."""
    return yaml.dump(
        document,
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


def dump_all(documents: Iterable[Any]) -> str:
    """Serialise documents as a ``---``-separated stream."""
    return "".join(f"---\n{dump(document)}" for document in documents)
