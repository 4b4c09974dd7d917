"""The Helm sources of the source controller: HelmRepository indexes and HelmChart packages.

Why a package of its own on the controller kit: the Helm kinds share storage, the artifact server,
conditions, events and metrics with GitRepository, but everything they read is Helm's: an index.yaml from
any HTTP server, chart archives from that server or an OCI registry, chart directories inside a Git
artifact. All of it is hostile input, so each format has one bounded reader here:

- :mod:`.index`: index.yaml/JSON within bounds, Helm's entry validation and order, version resolution;
- :mod:`.archive`: chart .tgz files read without links, escapes or bombs, and packaged reproducibly;
- :mod:`.directory`: a chart directory inside a source artifact, confined to it;
- :mod:`.values`: `spec.valuesFiles` merged in order;
- :mod:`.getter` and :mod:`.oci`: HTTP/S repositories and OCI registries, with the repository's
  credentials and Flux's rules for sending them;
- :mod:`.helmrepository`, :mod:`.helmchart`: the two reconcilers; :mod:`.controller` wires them.
"""
