"""The artifact contract between sources and their consumers.

Every source kind (GitRepository today; OCIRepository, Bucket, HelmChart and ExternalArtifact next)
produces the same thing: a reproducible tarball in storage, served over HTTP, described in
``status.artifact`` by url, digest and revision. Every consumer (the kustomize controller, the helm
controller, the CLI's local build) reads it the same way: download, verify the digest, extract safely.
This package holds both sides so that neither depends on the other's controller:

- :mod:`~headwater.artifact.storage`: where artifacts live, their records and garbage collection;
- :mod:`~headwater.artifact.archive`: packing a tree into a reproducible tar.gz;
- :mod:`~headwater.artifact.ignore`: which files go in (Flux's ``.sourceignore`` rules);
- :mod:`~headwater.artifact.server`: the HTTP server for stored artifacts;
- :mod:`~headwater.artifact.fetch`: download, verify and unpack on the consumer side;
- :mod:`~headwater.artifact.revision`: revision strings, their parsing and comparison.
"""
