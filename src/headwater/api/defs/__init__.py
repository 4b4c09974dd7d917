"""Schema definitions of the Flux kinds, one module per API group.

Each module exposes ``KINDS``: the :class:`~headwater.api.kinddef.KindDef` objects of its
group.  :mod:`headwater.api.kinds` gathers them into the registry.
"""
