"""Server-side apply of a set of manifests: stages, drift detection, inventory, pruning, health.

Shared by the kustomize controller (and later the helm controller's drift correction).
"""
