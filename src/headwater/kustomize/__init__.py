"""The kustomize controller: a source artifact in, the cluster made to match it (and kept matching).

Build with the real kustomize, substitute variables, decrypt SOPS, apply server-side in stages, prune
what left the build, wait for health, respect dependencies and tenancy.
"""
