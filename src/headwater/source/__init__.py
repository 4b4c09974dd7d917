"""The source controller: turns Git refs (and later OCI, Helm, S3) into versioned, served artifacts.

Flux-compatible to the byte: same revision strings, same tarball rules, same status, so that artifacts
made here could be consumed by Flux's controllers and the other way round.
"""
