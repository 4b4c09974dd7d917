"""A Helm repository index (index.yaml, or its JSON form) read within bounds, checked and ordered as Flux does.

An index comes from any HTTP server on the internet, so it is read like any hostile file: at most
`--helm-index-max-size` bytes; JSON when the bytes are valid JSON (Flux's rule), otherwise YAML through
safeyaml (depth and alias-expansion bounds; an alias bomb is refused before it expands). Then Flux's
`IndexFromBytes`:

- an empty document, or one without `apiVersion`, is refused (Helm's messages);
- YAML is read strictly, as `sigs.k8s.io/yaml.UnmarshalStrict` does: a field Helm's index types do not
  have, or a value of the wrong type, refuses the whole index, naming the field (JSON ignores unknown
  fields, as Go's `json.Unmarshal` does, but not wrong types);
- an entry that fails Helm's chart metadata validation (no name, a name with a slash, a version that is
  not SemVer, a bad type, a bad dependency alias) is dropped, the rest of the index is kept;
- each chart's versions are sorted newest first (SemVer precedence; Helm's sort is not stable for
  versions that differ only in build metadata, this one keeps their order in the file).

`to_json` writes what Flux stores as the artifact (`json.MarshalIndent(index, "", "  ")` of Helm's types:
struct field order, map keys sorted, Go's HTML escaping) and `chart_version` picks a version as Flux's
`ChartRepository.GetChartVersion` does.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from headwater.api import safeyaml
from headwater.source import semver
from headwater.source.helm.limits import DEFAULT_LIMITS

__all__ = ["ChartVersionNotFound", "InvalidIndex", "RepositoryIndex", "chart_version", "parse_index", "to_json"]


class InvalidIndex(ValueError):
    """The index is refused; the message names the file and, where there is one, the field."""


class ChartVersionNotFound(LookupError):
    """No version of the chart satisfies the requested range (or the chart is not in the index)."""


# Helm's index types, fields in Go struct order: what strict reading accepts and `to_json` writes.
_INDEX_FIELDS: Final = ("serverInfo", "apiVersion", "generated", "entries", "publicKeys", "annotations")
_METADATA_FIELDS: Final = ("name", "home", "sources", "version", "description", "keywords", "maintainers", "icon",
                           "apiVersion", "condition", "tags", "appVersion", "deprecated", "annotations", "kubeVersion",
                           "dependencies", "type")
_VERSION_FIELDS: Final = ("urls", "created", "removed", "digest", "checksum", "engine", "tillerVersion", "url")
_DEPENDENCY_FIELDS: Final = ("name", "version", "repository", "condition", "tags", "enabled", "import-values", "alias")
_MAINTAINER_FIELDS: Final = ("name", "email", "url")
#: Fields Go always writes (not `omitempty`); `created` is a time.Time, which encoding/json never omits.
_ALWAYS: Final = frozenset({"apiVersion", "generated", "entries", "urls", "created"})
_ZERO_TIME: Final = "0001-01-01T00:00:00Z"

_STRINGS: Final = frozenset({"name", "home", "version", "description", "icon", "apiVersion", "condition", "tags",
                             "appVersion", "kubeVersion", "type", "created", "digest", "checksum", "engine",
                             "tillerVersion", "url", "generated", "email", "repository", "alias"})
_STRING_LISTS: Final = frozenset({"sources", "keywords", "urls", "publicKeys"})
_BOOLS: Final = frozenset({"deprecated", "removed", "enabled"})
_STRING_MAPS: Final = frozenset({"annotations"})


@dataclass(frozen=True)
class RepositoryIndex:
    """A checked index: the top-level fields as read, and each chart's valid versions, newest first."""

    fields: dict[str, Any]
    entries: dict[str, list[dict[str, Any]]]
    dropped: int = 0  # entries removed by the metadata validation

    def versions(self, name: str) -> list[dict[str, Any]]:
        return self.entries.get(name, [])


# -- reading --------------------------------------------------------------------------------------------

def parse_index(data: bytes, *, source: str = "index.yaml", max_size: int = DEFAULT_LIMITS.max_index_size
                ) -> RepositoryIndex:
    """Read and check an index; `source` names the file in every refusal."""
    if len(data) > max_size:
        raise InvalidIndex(f"{source}: larger than the maximum index size of {max_size} bytes")
    if not data.strip():
        raise InvalidIndex(f"{source}: empty index.yaml file")
    strict, document = _decode(data, source, max_size)
    if not isinstance(document, dict):
        raise InvalidIndex(f"{source}: the index is not a mapping")
    fields = _checked_object(document, _INDEX_FIELDS, "", source, strict)
    if not fields.get("apiVersion"):
        raise InvalidIndex(f"{source}: no API version specified")
    raw_entries = fields.get("entries") or {}
    if not isinstance(raw_entries, dict):
        raise InvalidIndex(f"{source}: field 'entries' must be a mapping of chart names to version lists")
    entries: dict[str, list[dict[str, Any]]] = {}
    dropped = 0
    for name, raw_versions in raw_entries.items():
        where = f"entries.{name}"
        if raw_versions is None:
            entries[str(name)] = []
            continue
        if not isinstance(raw_versions, list):
            raise InvalidIndex(f"{source}: field '{where}' must be a list of chart versions")
        kept = []
        for position, raw in enumerate(raw_versions):
            if raw is None:
                continue
            if not isinstance(raw, dict):
                raise InvalidIndex(f"{source}: field '{where}[{position}]' must be a mapping")
            version = _checked_object(raw, (*_METADATA_FIELDS, *_VERSION_FIELDS), f"{where}[{position}]", source,
                                      strict)
            version.setdefault("apiVersion", "v1")
            if not version["apiVersion"]:
                version["apiVersion"] = "v1"
            if _metadata_problem(version) is None:
                kept.append(version)
            else:
                dropped += 1
        entries[str(name)] = sort_versions(kept)
    return RepositoryIndex(fields, entries, dropped)


def _decode(data: bytes, source: str, max_size: int) -> tuple[bool, Any]:
    """(strict, document): JSON when the bytes are JSON, else YAML through safeyaml."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidIndex(f"{source}: not UTF-8 text (byte {err.start})") from err
    try:
        return False, json.loads(text)
    except RecursionError as err:
        raise InvalidIndex(f"{source}: JSON nested too deeply") from err
    except ValueError:
        pass
    try:
        return True, safeyaml.load(text, source=source, limits=safeyaml.Limits(max_bytes=max_size))
    except safeyaml.YAMLInputError as err:
        raise InvalidIndex(str(err)) from err


def _checked_object(raw: dict[Any, Any], allowed: tuple[str, ...], where: str, source: str,
                    strict: bool) -> dict[str, Any]:
    """`raw` with its known fields type-checked; unknown ones refused when strict, else dropped."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = f"{where}.{key}" if where else str(key)
        if key not in allowed:
            if strict:
                raise InvalidIndex(f"{source}: unknown field '{field}'")
            continue
        out[key] = _checked_value(key, value, field, source, strict, allowed is _DEPENDENCY_FIELDS)
    return out


def _checked_value(key: str, value: Any, field: str, source: str, strict: bool, dependency: bool) -> Any:
    if value is None:
        return None
    if key in ("maintainers", "dependencies"):
        if not isinstance(value, list):
            raise InvalidIndex(f"{source}: field '{field}' must be a list")
        allowed = _MAINTAINER_FIELDS if key == "maintainers" else _DEPENDENCY_FIELDS
        items: list[Any] = []
        for position, item in enumerate(value):
            if item is not None and not isinstance(item, dict):
                raise InvalidIndex(f"{source}: field '{field}[{position}]' must be a mapping")
            items.append(None if item is None else _checked_object(item, allowed, f"{field}[{position}]", source,
                                                                   strict))
        return items
    if key == "tags" and dependency:  # a dependency's tags are a list; a chart's tags a string
        return _typed(value, list, field, source)
    if key in _STRINGS:
        return _typed(value, str, field, source)
    if key in _STRING_LISTS or key == "import-values":
        _typed(value, list, field, source)
        if key != "import-values" and not all(isinstance(item, str) for item in value):
            raise InvalidIndex(f"{source}: field '{field}' must be a list of strings")
        return value
    if key in _BOOLS:
        return _typed(value, bool, field, source)
    if key in _STRING_MAPS:
        _typed(value, dict, field, source)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise InvalidIndex(f"{source}: field '{field}' must map strings to strings")
        return value
    if key in ("entries", "serverInfo"):
        return _typed(value, dict, field, source)
    return value


def _typed(value: Any, kind: type, field: str, source: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = {str: "a string", list: "a list", dict: "a mapping", bool: "a boolean"}
        raise InvalidIndex(f"{source}: field '{field}' must be {names[kind]}, not {type(value).__name__}")
    return value


def _metadata_problem(version: Mapping[str, Any]) -> str | None:
    """Helm's `Metadata.Validate` for an index entry (None when valid); duplicate dependency names are
    tolerated, as Flux tolerates them in indexes."""
    name = version.get("name") or ""
    if not name:
        return "chart.metadata.name is required"
    if name != posixpath.basename(name) or "\\" in name:
        return f"chart.metadata.name {name!r} is invalid"
    text = version.get("version") or ""
    if not text:
        return "chart.metadata.version is required"
    try:
        semver.parse_version(text)
    except semver.SemverError:
        return f"chart.metadata.version {text!r} is invalid"
    if version.get("type") not in (None, "", "application", "library"):
        return "chart.metadata.type must be application or library"
    for maintainer in version.get("maintainers") or []:
        if maintainer is None:
            return "chart.metadata.maintainers must not contain empty or null nodes"
    for dependency in version.get("dependencies") or []:
        if dependency is None:
            return "dependencies must not contain empty or null nodes"
        alias = dependency.get("alias") or ""
        if alias and not all(c.isascii() and (c.isalnum() or c in "-_") for c in alias):
            return f"dependency {dependency.get('name')!r} has disallowed characters in the alias"
    return None


def _sort_key(version: Mapping[str, Any]) -> semver.Version:
    return semver.parse_version(str(version["version"]))


def sort_versions(versions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first by SemVer precedence (every version here parses: invalid ones were dropped)."""
    return sorted(versions, key=_sort_key, reverse=True)


# -- writing --------------------------------------------------------------------------------------------

def _ordered(obj: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in order:
        value = obj.get(key)
        if key in _ALWAYS:
            out[key] = _ZERO_TIME if value is None and key in ("generated", "created") else value
        elif value not in (None, "", [], {}, False):
            out[key] = value
    return out


def _version_json(version: Mapping[str, Any]) -> dict[str, Any]:
    out = _ordered(version, _METADATA_FIELDS)
    for key in ("maintainers", "dependencies"):
        if key in out:
            order = _MAINTAINER_FIELDS if key == "maintainers" else _DEPENDENCY_FIELDS
            out[key] = [None if item is None else _ordered(item, order) for item in out[key]]
    out.update(_ordered(version, _VERSION_FIELDS))
    if out.get("urls") is None:
        out["urls"] = None
    return out


def to_json(index: RepositoryIndex) -> bytes:
    """The index as Flux stores it: indented JSON of Helm's types, HTML-escaped as Go escapes it."""
    document = _ordered({**index.fields, "entries": None}, _INDEX_FIELDS)
    document["entries"] = {name: [_version_json(v) for v in versions]
                           for name, versions in sorted(index.entries.items())}
    for key in ("serverInfo", "annotations"):
        if isinstance(document.get(key), dict):
            document[key] = dict(sorted(document[key].items()))
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


# -- resolving --------------------------------------------------------------------------------------------

def chart_version(index: RepositoryIndex, name: str, wanted: str) -> dict[str, Any]:
    """The version of chart `name` that `wanted` (an exact version, a SemVer range, `*` or empty for the
    latest release) selects; ties in precedence go to the most recently created."""
    if name not in index.entries:
        raise ChartVersionNotFound("no chart name found")
    versions = index.entries[name]
    if not versions:
        raise ChartVersionNotFound("no chart version found")
    if wanted:
        for version in versions:
            if version["version"] == wanted:
                return version
    constraint = semver.parse_constraint("*" if wanted in ("", "*") else wanted)
    matched: list[tuple[semver.Version, str, dict[str, Any]]] = []
    for version in versions:
        try:
            parsed = semver.parse_flux_version(str(version["version"]))
        except semver.SemverError:
            continue
        if constraint.check(parsed):
            matched.append((parsed, str(version.get("created") or ""), version))
    if not matched:
        raise ChartVersionNotFound(f"no '{name}' chart with version matching '{wanted}' found")
    return max(matched, key=lambda item: (item[0], item[1]))[2]
