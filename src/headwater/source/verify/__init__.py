"""Signature verification of OCI artifacts, shared by the sources that pull from registries.

A HelmChart from an OCI HelmRepository verifies its chart's manifest here; an OCIRepository will verify
its artifact the same way. Only the cosign provider with public keys is implemented: `cosign` checks the
signatures cosign attaches to a manifest digest, `signatures` fetches them from a registry.
"""
