"""A structural YAML diff printed the way `flux diff` prints it (dyff's human report, no header).

A line diff of two YAML dumps is noisy (re-ordered keys, moved list entries); Flux users read
per-field reports instead: the path of each change in dot notation, list entries that are Kubernetes
named items (containers, ports, env vars...) addressed by their `name`, then what happened there:

    spec.replicas
      ± value change
        - 1
        + 2

Only what the two documents hold is compared; callers remove server noise first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

ROOT = "(root level)"
IDENTIFIERS = ("name", "key", "id")
_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]


@dataclass
class Detail:
    kind: str  # "value", "type", "added", "removed", "order"
    old: Any = None
    new: Any = None


@dataclass
class Difference:
    path: tuple[str, ...]
    details: list[Detail] = field(default_factory=list)

    @property
    def dotted(self) -> str:
        return ".".join(self.path) if self.path else ROOT


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def compare(old: Any, new: Any, path: tuple[str, ...] = ()) -> list[Difference]:
    """The differences from `old` to `new`, outer paths first, in `old`'s key order."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return _compare_maps(old, new, path)
    if isinstance(old, list) and isinstance(new, list):
        return _compare_lists(old, new, path)
    if type_name(old) != type_name(new):
        return [Difference(path, [Detail("type", old, new)])]
    if old != new:
        return [Difference(path, [Detail("value", old, new)])]
    return []


def _compare_maps(old: Mapping[str, Any], new: Mapping[str, Any], path: tuple[str, ...]) -> list[Difference]:
    here = Difference(path)
    removed = {k: v for k, v in old.items() if k not in new}
    added = {k: v for k, v in new.items() if k not in old}
    if removed:
        here.details.append(Detail("removed", old=removed))
    if added:
        here.details.append(Detail("added", new=added))
    nested = [d for key in old if key in new for d in compare(old[key], new[key], (*path, str(key)))]
    return ([here] if here.details else []) + nested


def _identifier(old: Sequence[Any], new: Sequence[Any]) -> str | None:
    """The key naming every entry of both lists of maps uniquely (Kubernetes named lists), if any."""
    items = [*old, *new]
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    for key in IDENTIFIERS:
        if all(_unique(side, key) for side in (old, new)):
            return key
    return None


def _unique(items: Sequence[Mapping[str, Any]], key: str) -> bool:
    values = [i.get(key) for i in items]
    return all(isinstance(v, str) for v in values) and len(set(values)) == len(values)


def _compare_lists(old: list[Any], new: list[Any], path: tuple[str, ...]) -> list[Difference]:
    key = _identifier(old, new)
    if key is not None:
        return _compare_named(old, new, key, path)
    if len(old) == len(new) and any(isinstance(i, Mapping | list) for i in old + new):
        return [d for index, (a, b) in enumerate(zip(old, new, strict=True))
                for d in compare(a, b, (*path, str(index)))]
    return _compare_as_sets(old, new, path)


def _compare_named(old: list[Any], new: list[Any], key: str, path: tuple[str, ...]) -> list[Difference]:
    old_by = {str(i[key]): i for i in old}
    new_by = {str(i[key]): i for i in new}
    here = Difference(path)
    removed = [i for name, i in old_by.items() if name not in new_by]
    added = [i for name, i in new_by.items() if name not in old_by]
    if removed:
        here.details.append(Detail("removed", old=removed))
    if added:
        here.details.append(Detail("added", new=added))
    common = [name for name in old_by if name in new_by]
    if not removed and not added and common != [n for n in new_by if n in old_by]:
        here.details.append(Detail("order", old=common, new=[n for n in new_by if n in old_by]))
    nested = [d for name in common for d in compare(old_by[name], new_by[name], (*path, name))]
    return ([here] if here.details else []) + nested


def _freeze(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True)


def _compare_as_sets(old: list[Any], new: list[Any], path: tuple[str, ...]) -> list[Difference]:
    old_count, new_count = Counter(map(_freeze, old)), Counter(map(_freeze, new))
    removed_left, added_left = old_count - new_count, new_count - old_count
    removed, added = [], []
    for item in old:
        if removed_left[_freeze(item)] > 0:
            removed_left[_freeze(item)] -= 1
            removed.append(item)
    for item in new:
        if added_left[_freeze(item)] > 0:
            added_left[_freeze(item)] -= 1
            added.append(item)
    here = Difference(path)
    if removed:
        here.details.append(Detail("removed", old=removed))
    if added:
        here.details.append(Detail("added", new=added))
    if not removed and not added and old != new:
        here.details.append(Detail("order", old=old, new=new))
    return [here] if here.details else []


# -- rendering -----------------------------------------------------------------------------------------


def count(n: int, singular: str, plural: str) -> str:
    word = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    return f"{word} {singular if n == 1 else plural}"


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


class _Dumper(yaml.SafeDumper):
    """Block YAML with multi-line strings as literal blocks (`|`), as a reader wants them."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _represent_str)


def _block(value: Any, indent: int) -> list[str]:
    """`value` as block YAML, every line indented."""
    if isinstance(value, Mapping | list):
        text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 16,
                         allow_unicode=True)
    else:
        text = _scalar(value)
    return [" " * indent + line for line in text.rstrip("\n").splitlines()] or [" " * indent]


def _signed(sign: str, value: Any) -> list[str]:
    lines = _block(value, 0)
    return [f"    {sign} {lines[0]}"] + [f"      {line}" for line in lines[1:]]


def render_detail(detail: Detail) -> list[str]:
    if detail.kind == "value":
        return ["  ± value change", *_signed("-", detail.old), *_signed("+", detail.new)]
    if detail.kind == "type":
        return [f"  ± type change from {type_name(detail.old)} to {type_name(detail.new)}",
                *_signed("-", detail.old), *_signed("+", detail.new)]
    if detail.kind in ("added", "removed"):
        value = detail.new if detail.kind == "added" else detail.old
        sign = "+" if detail.kind == "added" else "-"
        what = count(len(value), "map entry", "map entries") if isinstance(value, Mapping) else \
            count(len(value), "list entry", "list entries")
        return [f"  {sign} {what} {detail.kind}:", *_block(value, 4)]
    return ["  ⇆ order changed", *_signed("-", _joined(detail.old)), *_signed("+", _joined(detail.new))]


def _joined(items: Sequence[Any]) -> str:
    return ", ".join(_scalar(item) for item in items)


def render(differences: Sequence[Difference]) -> str:
    """dyff's human report without header: a blank line, then each path and what changed there."""
    lines: list[str] = []
    for difference in differences:
        lines += ["", difference.dotted]
        for detail in difference.details:
            lines += render_detail(detail)
    return "\n".join(lines) + "\n\n" if lines else ""
