"""Flux's revision strings for Git artifacts: formatting, parsing and comparison.

The revision in ``status.artifact.revision`` is the key every Flux consumer reacts to: the
kustomize- and helm-controllers re-apply when it changes, notification events carry it, and the
source-controller itself decides from it whether a new artifact must be built. It therefore has to
be produced byte for byte as Flux does (RFC-0005, source-controller v1):

* ``<branch>@sha1:<hex>`` for a branch (``main@sha1:…``, ``feature/x@sha1:…``);
* ``<tag>@sha1:<hex>`` for a tag or a semver-selected tag, where ``<hex>`` is the *commit* the
  tag points to (annotated tags are peeled; the tag object's own hash is never used);
* ``<full ref>@sha1:<hex>`` when ``spec.ref.name`` is used (``refs/pull/1/head@sha1:…``);
* ``sha1:<hex>`` for a bare commit (``spec.ref.commit`` without a branch);
* ``sha256:`` instead of ``sha1:`` for repositories in the SHA-256 object format (64 hex digits).

The short name is fluxcd/pkg ``git.Commit.String()``: the reference minus its first two path
components (``refs/heads/feature/x`` -> ``feature/x``), whereas ``ref.name`` revisions use
``AbsoluteReference()`` (the full reference).

Older Flux versions wrote ``<branch>/<hex>``, ``HEAD/<hex>`` or a bare ``<hex>``; these still
appear in stored objects and are understood by :func:`parse_revision` and
:func:`normalize_revision` (fluxcd's ``TransformLegacyRevision``: ``main/<hex>`` ->
``main@sha1:<hex>``, ``HEAD/<hex>`` and ``<hex>`` -> ``sha1:<hex>``).

Comparison: in the v1 API, ``Artifact.HasRevision`` is plain string equality
(:func:`has_revision`), so an artifact recorded in a legacy format is rebuilt once under the new
format; the legacy-aware equality (:func:`same_revision`) is what v1beta2 used and what the Git
client applies to the last observed revision when deciding it can skip a clone.

Messages: Flux has no abbreviated-SHA form; conditions and events quote the full revision
(``stored artifact for revision 'main@sha1:<40 hex>'``). The ``NewArtifact`` event instead quotes
the commit subject cut to 50 characters plus ``...`` (:func:`commit_short_message`), or the
revision when the commit itself was not fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "SHA1",
    "SHA256",
    "Revision",
    "artifact_up_to_date_message",
    "branch_revision",
    "commit_revision",
    "commit_short_message",
    "digest",
    "extract_hash",
    "git_revision",
    "has_revision",
    "hash_algorithm",
    "new_artifact_event_message",
    "new_upstream_revision_message",
    "no_changes_message",
    "normalize_revision",
    "parse_revision",
    "ref_name_revision",
    "same_revision",
    "short_ref",
    "stored_artifact_message",
    "tag_revision",
]

SHA1 = "sha1"
SHA256 = "sha256"

_HEX = re.compile(r"[0-9a-fA-F]+")
_LOWER_HEX = re.compile(r"[0-9a-f]+")
_HASH_LENGTHS = {40: SHA1, 64: SHA256}
_DIGEST = re.compile(r"(?P<algorithm>sha1|sha256):(?P<hex>[0-9a-f]+)")


def hash_algorithm(sha: str) -> str:
    """``sha1`` for 40 hex digits, ``sha256`` for 64; anything else is a ``ValueError``."""
    algorithm = _HASH_LENGTHS.get(len(sha))
    if algorithm is None or _HEX.fullmatch(sha) is None:
        raise ValueError(f"not a full SHA-1 or SHA-256 object name: {sha!r}")
    return algorithm


def digest(sha: str) -> str:
    """``<algorithm>:<lowercase hex>`` for a full commit hash (``git.Hash.Digest()``)."""
    return f"{hash_algorithm(sha)}:{sha.lower()}"


def short_ref(reference: str) -> str:
    """The name Flux shows for a reference: drop the first two path components.

    ``refs/heads/main`` -> ``main``, ``refs/tags/v1.0.0`` -> ``v1.0.0``,
    ``refs/heads/feature/x`` -> ``feature/x``. A reference with fewer than three components
    (or the empty string) has no short name and gives ``""``.
    """
    parts = reference.split("/", 2)
    return parts[2] if len(parts) == 3 else ""


def git_revision(reference: str, sha: str, *, absolute: bool = False) -> str:
    """The revision of commit ``sha`` checked out through ``reference``.

    With ``absolute`` (``spec.ref.name`` in use) the whole reference is the pointer; otherwise its
    :func:`short_ref`. Without a pointer (no reference, e.g. a bare commit) it is ``sha1:<hex>``.
    """
    pointer = reference if absolute else short_ref(reference)
    return f"{pointer}@{digest(sha)}" if pointer else digest(sha)


def branch_revision(branch: str, sha: str) -> str:
    """``<branch>@sha1:<hex>``."""
    return git_revision(f"refs/heads/{branch}", sha)


def tag_revision(tag: str, sha: str) -> str:
    """``<tag>@sha1:<hex>``; ``sha`` must be the peeled commit, not an annotated tag object."""
    return git_revision(f"refs/tags/{tag}", sha)


def ref_name_revision(name: str, sha: str) -> str:
    """``<name>@sha1:<hex>`` for ``spec.ref.name`` (the reference as written, e.g. ``refs/pull/1/head``)."""
    return git_revision(name, sha, absolute=True)


def commit_revision(sha: str) -> str:
    """``sha1:<hex>`` for a commit checked out without a branch."""
    return digest(sha)


@dataclass(frozen=True)
class Revision:
    """A parsed Git revision: optional pointer name, hash algorithm and hex.

    ``legacy`` records that it was written in a pre-RFC-0005 form; ``str()`` always gives the
    current form.
    """

    name: str
    algorithm: str
    hex: str
    legacy: bool = False

    def __str__(self) -> str:
        return f"{self.name}@{self.algorithm}:{self.hex}" if self.name else f"{self.algorithm}:{self.hex}"

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def _legacy_algorithm(sha: str) -> str | None:
    """Hash type of a legacy revision's hex (lowercase only, as ``determineSHAType``)."""
    if _LOWER_HEX.fullmatch(sha) is None:
        return None
    return _HASH_LENGTHS.get(len(sha))


def parse_revision(text: str) -> Revision:
    """Parse a Git revision in the current or a legacy format; ``ValueError`` if it is neither.

    Current: ``<name>@<algo>:<hex>`` (the last ``@`` separates the name) and ``<algo>:<hex>``.
    Legacy: ``<name>/<hex>`` (``HEAD/<hex>`` means no name) and a bare ``<hex>``.
    """
    name, sep, rest = text.rpartition("@")
    match = _DIGEST.fullmatch(rest)
    if match is not None and (name or not sep) and _HASH_LENGTHS.get(len(match["hex"])) == match["algorithm"]:
        return Revision(name, match["algorithm"], match["hex"])
    if ":" not in text:
        name, slash, sha = text.rpartition("/")
        algorithm = _legacy_algorithm(sha)
        if algorithm is not None and (name or not slash):
            return Revision("" if name == "HEAD" else name, algorithm, sha, legacy=True)
    raise ValueError(f"not a Git revision: {text!r}")


def normalize_revision(text: str) -> str:
    """Rewrite a legacy revision into the current form; anything else is returned unchanged.

    This is fluxcd's ``TransformLegacyRevision``: ``main/<hex>`` -> ``main@sha1:<hex>``,
    ``HEAD/<hex>`` and ``<hex>`` -> ``sha1:<hex>``, 64 hex digits -> ``sha256``.
    """
    if not text or ":" in text:
        return text
    name, slash, sha = text.rpartition("/")
    if slash:
        algorithm = _legacy_algorithm(sha)
        if algorithm is not None:
            return f"{algorithm}:{sha}" if name == "HEAD" else f"{name}@{algorithm}:{sha}"
    algorithm = _legacy_algorithm(text)
    return f"{algorithm}:{text}" if algorithm is not None else text


def has_revision(current: str | None, revision: str) -> bool:
    """``Artifact.HasRevision`` of the v1 API: exact string equality; no artifact never matches.

    This is the test source-controller applies before building: when it is false the object is
    marked ``ArtifactOutdated`` (``NewRevision``) and a new artifact is stored, so an artifact
    recorded as ``main/<hex>`` is re-archived once as ``main@sha1:<hex>``.
    """
    return current is not None and current == revision


def same_revision(a: str | None, b: str | None) -> bool:
    """Legacy-aware equality: true when both name the same pointer and commit in either format.

    Used where Flux normalises first (v1beta2 ``HasRevision``, and the Git client comparing the
    last observed revision with the remote head to skip a clone).
    """
    if a is None or b is None:
        return False
    return normalize_revision(a) == normalize_revision(b)


def extract_hash(revision: str) -> str:
    """The hex of any revision form (fluxcd ``ExtractHashFromRevision``): after the last ``:``,
    else after the last ``/``, else the whole string."""
    if ":" in revision:
        return revision.rsplit(":", 1)[1]
    return revision.rsplit("/", 1)[-1]


def commit_short_message(message: str) -> str:
    """The commit subject, cut to 50 characters plus ``...`` (``git.Commit.ShortMessage()``)."""
    subject = message.split("\n", 1)[0]
    return subject[:50] + "..." if len(subject) > 50 else subject


def stored_artifact_message(revision: str) -> str:
    """``Ready``/``ArtifactInStorage`` message once the artifact for ``revision`` is stored."""
    return f"stored artifact for revision '{revision}'"


def new_upstream_revision_message(revision: str) -> str:
    """``ArtifactOutdated`` (reason ``NewRevision``) message; ``Reconciling`` prefixes ``building artifact: ``."""
    return f"new upstream revision '{revision}'"


def artifact_up_to_date_message(revision: str) -> str:
    """Trace event (reason ``ArtifactUpToDate``) when nothing changed."""
    return f"artifact up-to-date with remote revision: '{revision}'"


def no_changes_message(revision: str) -> str:
    """Log line when the remote head equals the stored artifact and the clone is skipped.

    The spelling ``reconcilation`` is Flux's own.
    """
    return f"no changes since last reconcilation: observed revision '{revision}'"


def new_artifact_event_message(revision: str, commit_message: str | None = None) -> str:
    """``NewArtifact`` event text.

    It quotes the commit subject (:func:`commit_short_message`) when the commit was fetched, and
    the revision when the clone was skipped and only the remote head is known (``commit_message``
    ``None``). Note that older Flux docs show untruncated subjects; current Flux cuts at 50.
    """
    quoted = revision if commit_message is None else commit_short_message(commit_message)
    return f"stored artifact for commit '{quoted}'"
