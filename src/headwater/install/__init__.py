"""Manifest generation for `headwater install` and `headwater bootstrap`.

The objects Flux's `install` applies (namespace, CRDs, RBAC, policies, controller Deployments) are built
here as plain dicts by pure functions, one module per concept, so they can be unit-tested, printed with
`--export`, committed by `bootstrap` and applied, all from the same source of truth.
"""
