"""headwater: a GitOps engine for Kubernetes that speaks the Flux v2 APIs.

Users keep clusters in sync with Git, OCI, Helm and S3 sources through the same custom resources Flux
defines; headwater's controllers reconcile them. Sub-packages are imported lazily by the CLI so that
`headwater --help` stays fast.
"""

__version__ = "0.1.0"
