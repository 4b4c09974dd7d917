"""YAML the way flux prints `--export` output.

flux's `printExport` marshals with sigs.k8s.io/yaml: the object goes to JSON, back through go-yaml v2
into generic maps, and out again with go-yaml v2. So what reaches the page is go-yaml v2's style:

- map keys in go-yaml's own order (`keyList.Less`): rune by rune, a non-letter before a letter, runs
  of digits compared as numbers (`item9` before `item10`, `_x` and `Z9` before `Za`) — not byte order;
- nested sequences not indented, multi-line strings as literal blocks;
- a string that go-yaml would read back as another type double-quoted: YAML 1.1 booleans including
  `y`/`n`, numbers in Go's syntax (`1e3`, `0x1F`, `1_000`), nulls, timestamps;
- floats in Go's shortest `%g` form (`0.5`, `1.2345675e+06`), and each object preceded by `---` and
  followed by a blank line (flux prints with Println).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import yaml

#: go-yaml v2's plain scalars that resolve to booleans or null (beyond what PyYAML's resolver knows).
_GO_NON_STRINGS = frozenset({"y", "Y", "n", "N", "<<"})
_GO_NUMBER_HINT = re.compile(r"^[-+.0-9]")


class _GoYamlDumper(yaml.SafeDumper):
    """PyYAML configured to emit what go-yaml v2 emits for sigs.k8s.io/yaml output."""


def _go_reads_as_non_string(value: str) -> bool:
    """Whether go-yaml v2 resolves the plain scalar `value` to something other than a string."""
    if value in _GO_NON_STRINGS:
        return True
    if not _GO_NUMBER_HINT.match(value):
        return False
    plain = value.replace("_", "")
    try:
        int(plain, 0)
        return True
    except ValueError:
        pass
    try:
        float(plain)
        return True
    except ValueError:
        return False


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    tag = "tag:yaml.org,2002:str"
    if "\n" in value:
        return dumper.represent_scalar(tag, value, style="|")
    resolved: str = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if resolved != tag or _go_reads_as_non_string(value):
        return dumper.represent_scalar(tag, value, style='"')
    return dumper.represent_scalar(tag, value)


def go_float(value: float) -> str:
    """`strconv.FormatFloat(value, 'g', -1, 64)` as go-yaml v2 writes it (`.inf`, `.nan` for the specials).

    Shortest digits; the exponent form when the exponent is below -4 or at least 6 (Go's rule for the
    shortest precision), with a sign and two digits at least (`1e+06`, `1.5e-07`).
    """
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)  # value = 0.<digits> x 10^point
    stripped = digits.rstrip("0")
    digits = stripped.lstrip("0")
    point -= len(stripped) - len(digits)
    prefix = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:float", go_float(value))


_GoYamlDumper.add_representer(str, _represent_str)
_GoYamlDumper.add_representer(float, _represent_float)


def _go_key_less(a: str, b: str) -> bool:
    """go-yaml v2's `keyList.Less` for two string keys."""
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        a_letter, b_letter = a[i].isalpha(), b[i].isalpha()
        if a_letter and b_letter:
            return a[i] < b[i]
        if a_letter or b_letter:
            return b_letter
        a_num = b_num = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    a_num = b_num = 1
                    break
                j -= 1
        a_end = i
        while a_end < len(a) and a[a_end].isdigit():
            a_num = a_num * 10 + int(a[a_end])
            a_end += 1
        b_end = i
        while b_end < len(b) and b[b_end].isdigit():
            b_num = b_num * 10 + int(b[b_end])
            b_end += 1
        if a_num != b_num:
            return a_num < b_num
        if a_end != b_end:
            return a_end < b_end
        return a[i] < b[i]
    return len(a) < len(b)


def _compare(a: str, b: str) -> int:
    return -1 if _go_key_less(a, b) else (1 if _go_key_less(b, a) else 0)


def go_ordered(node: Any) -> Any:
    """`node` with every mapping's keys in go-yaml v2's order (keys as strings, as after JSON)."""
    if isinstance(node, Mapping):
        keys = sorted((str(key) for key in node), key=functools.cmp_to_key(_compare))
        by_text = {str(key): value for key, value in node.items()}
        return {key: go_ordered(by_text[key]) for key in keys}
    if isinstance(node, list | tuple):
        return [go_ordered(item) for item in node]
    return node


def dump(obj: Any) -> str:
    """One object (or any JSON-like value) as go-yaml v2 prints it (no document marker)."""
    return yaml.dump(go_ordered(obj), Dumper=_GoYamlDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=80)


def to_yaml(objects: Iterable[Mapping[str, Any]]) -> str:
    """Objects as flux's `--export` prints them: `---`, the object, a blank line, for each."""
    return "".join(f"---\n{dump(obj)}\n" for obj in objects)
