"""The Flux API types: schemas, CRDs, typed models, Go durations and offline validation.

Each Flux kind is declared once in :mod:`headwater.api.defs` with the schema language of
:mod:`headwater.api.schema`.  Everything else is derived from that declaration:

* ``python -m headwater.api.crdgen [--check]`` writes the CRDs to ``config/crd``
  (:func:`headwater.api.crdgen.crd_paths`, :func:`headwater.api.crd.crd_manifest`);
* :func:`load` wraps a manifest dict in its typed model without copying it
  (``load(d).spec.interval.seconds``; ``.raw`` is the dict);
* :func:`validate` checks a manifest offline and names the path of each error.

Typical use::

    from headwater.api import load, validate
    errors = validate(manifest)          # [] when valid
    repo = load(manifest)                # GitRepository view over the same dict
    repo.spec.interval.seconds           # 60.0 for "1m"
"""

from headwater.api.duration import Duration, DurationError, parse_duration
from headwater.api.kinddef import KindDef
from headwater.api.kinds import ALL_KINDS, find_kind, kind_named, kind_of
from headwater.api.models import FluxObject, UnknownKindError, load
from headwater.api.validation import FieldError, ValidationError, check, validate, with_defaults

__all__ = [
    "ALL_KINDS",
    "Duration",
    "DurationError",
    "FieldError",
    "FluxObject",
    "KindDef",
    "UnknownKindError",
    "ValidationError",
    "check",
    "find_kind",
    "kind_named",
    "kind_of",
    "load",
    "parse_duration",
    "validate",
    "with_defaults",
]
