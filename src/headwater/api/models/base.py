"""Typed views over plain Kubernetes object dicts.

Controllers move thousands of objects through watch caches, diffing and server-side apply
as plain ``dict`` values; converting each into a tree of dataclasses (and back) would cost
time and could reorder or drop fields, so a manifest would no longer round-trip.  Instead a
:class:`View` *wraps* a dict without copying it and exposes typed properties through
descriptors:

* reading a property is a dict lookup, plus a conversion for durations and nested views;
* schema defaults (and a few documented runtime defaults, ``fallback=``) are applied on
  read, never written into the dict, so ``view.raw`` stays byte-for-byte what was loaded;
* writing a property writes straight into the dict (``None`` deletes the key);
* ``view.raw`` is the underlying dict, for serialisation or server-side apply.

Each view class names the schema node it mirrors (``__schema__``); at import time every
descriptor is checked against it, so a typo in a field name fails loudly and defaults are
taken from the one schema definition instead of being repeated here.

A nested object that is absent but has a default (or is the ``spec``/``status`` of a kind)
is returned as a *detached* view: reading works on the default, and the first write
attaches it to its parent, so ``obj.status.observed_generation = 3`` just works.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Self, TypeVar, overload

from headwater.api.duration import Duration
from headwater.api.schema import UNSET, Schema

T = TypeVar("T")
V = TypeVar("V", bound="View")

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """``service_account_name`` -> ``serviceAccountName``."""
    return _CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), name)


class MissingFieldError(KeyError):
    """A required field was read but is absent (the object was never validated)."""


class View:
    """A typed window onto a ``dict`` (see the module docstring)."""

    __slots__ = ("_key", "_parent", "raw")

    #: The schema node this view mirrors; ``None`` for views without one.
    __schema__: ClassVar[Schema | None] = None
    #: Descriptor name -> descriptor, including inherited ones.
    __fields__: ClassVar[dict[str, Field[Any]]] = {}

    raw: dict[str, Any]
    _parent: View | None
    _key: str

    def __init__(self, raw: dict[str, Any] | None = None) -> None:
        self.raw = {} if raw is None else raw
        self._parent = None
        self._key = ""

    @classmethod
    def detached(cls, parent: View, key: str, raw: dict[str, Any] | None = None) -> Self:
        """A view that is inserted into ``parent.raw[key]`` on its first write."""
        view = cls(raw)
        view._parent = parent
        view._key = key
        return view

    def attach(self) -> None:
        """Insert a detached view (and its detached ancestors) into the parent dicts."""
        parent = self._parent
        if parent is None:
            return
        parent.attach()
        existing = parent.raw.get(self._key)
        if isinstance(existing, dict):
            self.raw = existing
        else:  # absent or null
            parent.raw[self._key] = self.raw
        self._parent = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Field[Any]] = {}
        for klass in reversed(cls.__mro__):
            fields.update({name: v for name, v in vars(klass).items() if isinstance(v, Field)})
        cls.__fields__ = fields
        schema = cls.__dict__.get("__schema__")
        if schema is None:
            return
        for name, descriptor in fields.items():
            node = schema.properties.get(descriptor.key)
            if node is None:
                raise TypeError(f"{cls.__qualname__}.{name}: schema has no property {descriptor.key!r}")
            if name in cls.__dict__:
                descriptor.bind(node)

    def get(self, key: str, default: Any = None) -> Any:
        """Raw access to a key (for fields without a typed property)."""
        return self.raw.get(key, default)

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            assert isinstance(other, View)
            return self.raw == other.raw
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # views are mutable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"


class Field(Generic[T]):
    """Descriptor for one property of a :class:`View`.

    ``key`` defaults to the camelCase form of the attribute name.  ``fallback`` is a
    runtime default documented by Flux but not part of the CRD schema (e.g. HelmRelease
    ``maxHistory`` 5); schema defaults are bound automatically.
    """

    __slots__ = ("default", "fallback", "key", "name", "required")

    def __init__(self, key: str | None = None, *, fallback: Any = UNSET) -> None:
        self.key = key or ""
        self.name = ""
        self.fallback = fallback
        self.default: Any = UNSET
        self.required = False

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name
        if not self.key:
            self.key = camel(name)

    def bind(self, node: Schema) -> None:
        self.default = node.default
        self.required = node.is_required

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, obj: View, owner: type[Any] | None = None) -> T: ...
    def __get__(self, obj: View | None, owner: type[Any] | None = None) -> Self | T:
        if obj is None:
            return self
        value = obj.raw.get(self.key)
        if value is None:
            return self.missing(obj)
        return self.wrap(obj, value)

    def __set__(self, obj: View, value: T) -> None:
        if value is None:
            obj.raw.pop(self.key, None)
            return
        obj.attach()
        obj.raw[self.key] = self.unwrap(value)

    def __delete__(self, obj: View) -> None:
        obj.raw.pop(self.key, None)

    def missing(self, obj: View) -> T:
        """Value for an absent key: the default, the fallback, ``None`` or an error."""
        if self.default is not UNSET:
            return self.wrap_default(obj, copy.deepcopy(self.default))
        if self.fallback is not UNSET:
            return self.wrap_default(obj, copy.deepcopy(self.fallback))
        if self.required:
            raise MissingFieldError(f"{self.key} is required but not set")
        return self.empty(obj)

    def empty(self, obj: View) -> T:
        return None  # type: ignore[return-value]

    def wrap(self, obj: View, value: Any) -> T:
        return value  # type: ignore[no-any-return]

    def wrap_default(self, obj: View, value: Any) -> T:
        return self.wrap(obj, value)

    def unwrap(self, value: Any) -> Any:
        return value


class ListField(Field[list[T]]):
    """A list of scalars; absent reads as a new empty list."""

    __slots__ = ()

    def empty(self, obj: View) -> list[T]:
        return []


class MapField(Field[dict[str, T]]):
    """A ``map[string]...`` of scalars; absent reads as a new empty dict."""

    __slots__ = ()

    def empty(self, obj: View) -> dict[str, T]:
        return {}


class DurationField(Field[T]):
    """A Go duration string read as :class:`~headwater.api.duration.Duration`."""

    __slots__ = ()

    def wrap(self, obj: View, value: Any) -> T:
        return Duration.parse(value)  # type: ignore[return-value]

    def unwrap(self, value: Any) -> Any:
        return str(value) if isinstance(value, Duration) else value


class Child(Field[T]):
    """A nested object read as a view of class ``view``."""

    __slots__ = ("always", "view")

    def __init__(
        self, view: type[View], key: str | None = None, *, always: bool = False, fallback: Any = UNSET
    ) -> None:
        super().__init__(key, fallback=fallback)
        self.view = view
        self.always = always

    def wrap(self, obj: View, value: Any) -> T:
        return self.view(value)  # type: ignore[return-value]

    def wrap_default(self, obj: View, value: Any) -> T:
        return self.view.detached(obj, self.key, value)  # type: ignore[return-value]

    def empty(self, obj: View) -> T:
        if self.always:
            return self.view.detached(obj, self.key)  # type: ignore[return-value]
        return None  # type: ignore[return-value]

    def unwrap(self, value: Any) -> Any:
        return value.raw if isinstance(value, View) else value


class Children(Field[list[V]]):
    """An array of objects read as a fresh list of views over the item dicts."""

    __slots__ = ("view",)

    def __init__(self, view: type[V], key: str | None = None) -> None:
        super().__init__(key)
        self.view = view

    def wrap(self, obj: View, value: Any) -> list[V]:
        make: Callable[[dict[str, Any]], V] = self.view
        return [make(item) for item in value]

    def empty(self, obj: View) -> list[V]:
        return []

    def unwrap(self, value: Any) -> Any:
        return [item.raw if isinstance(item, View) else item for item in value]


class ChildMap(Field[dict[str, V]]):
    """A ``map[string]object`` read as a fresh dict of views."""

    __slots__ = ("view",)

    def __init__(self, view: type[V], key: str | None = None) -> None:
        super().__init__(key)
        self.view = view

    def wrap(self, obj: View, value: Any) -> dict[str, V]:
        make: Callable[[dict[str, Any]], V] = self.view
        return {name: make(item) for name, item in value.items()}

    def empty(self, obj: View) -> dict[str, V]:
        return {}

    def unwrap(self, value: Any) -> Any:
        return {name: item.raw if isinstance(item, View) else item for name, item in value.items()}


# -- factories with inferred types ------------------------------------------------------
def child(view: type[V], key: str | None = None) -> Child[V | None]:
    """Optional nested object: ``None`` when absent."""
    return Child(view, key)


def child_always(view: type[V], key: str | None = None) -> Child[V]:
    """Nested object that is always readable: a detached (lazily attached) view when absent.

    Use for required objects, objects with a schema default, and ``spec``/``status``.
    """
    return Child(view, key, always=True)


def children(view: type[V], key: str | None = None) -> Children[V]:
    return Children(view, key)


def child_map(view: type[V], key: str | None = None) -> ChildMap[V]:
    return ChildMap(view, key)


def duration(key: str | None = None) -> DurationField[Duration | None]:
    """Optional duration: ``None`` when absent and without a default."""
    return DurationField(key)


def duration_required(key: str | None = None, *, fallback: str | None = None) -> DurationField[Duration]:
    """Duration that is required, has a schema default, or has a runtime ``fallback``."""
    return DurationField(key, fallback=UNSET if fallback is None else fallback)


def strings(key: str | None = None) -> ListField[str]:
    return ListField(key)


def string_map(key: str | None = None) -> MapField[str]:
    return MapField(key)
