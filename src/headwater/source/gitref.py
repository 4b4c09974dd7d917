"""Resolve a GitRepository ``spec.ref`` against a remote's advertised refs, as Flux does.

Before anything is fetched, the source controller has to know *what* to fetch and what revision
it will report: which reference wins when several ``spec.ref`` fields are set, which tag a semver
range selects, which commit an annotated tag stands for, and which error to report when the
reference does not exist. All of that is pure logic over the ``git ls-remote`` advertisement, so
it lives here, apart from the transport; the caller turns a :class:`FetchPlan` into fetches.

Facts reproduced (source-controller ``gitrepositories.md`` v1 and fluxcd/pkg ``git/gogit``):

* precedence, highest first: ``commit`` > ``name`` > ``semver`` > ``tag`` > ``branch``; with no
  reference at all the branch ``master`` is used (``repository.DefaultBranch``), not the
  remote's HEAD;
* ``commit`` with ``branch``: fetch (shallowly) that branch, then check out the commit, which must
  be on it; ``commit`` alone: fetch the branches and check out the commit. The revision is
  ``<branch>@sha1:<commit>``, or ``sha1:<commit>`` without a branch, or ``<name>@sha1:<commit>``
  when ``name`` is also set;
* ``name`` is any full reference (``refs/pull/1/head``, ``refs/heads/main``, ``refs/tags/v1``);
  for a tag reference the peeled commit (``<ref>^{}``) is preferred; the revision keeps the full
  name; a name starting or ending with ``/`` is rejected;
* ``semver`` looks at every ``refs/tags/*`` tag, keeps those that parse as strict SemVer with at
  most one leading ``v`` (fluxcd/pkg ``version.ParseVersion``; ``v1.2`` and ``release-1.0.0`` are
  ignored), keeps those the Masterminds range accepts, and takes the highest; the revision uses
  the tag name as written (``v1.2.3@sha1:…``);
* tags (``tag``, ``semver``, tag ``name``) resolve to the commit, never to the tag object.

Deviation, on purpose: the Go client tests ``tag`` before ``semver`` (``gogit.Client.Clone``),
although the API documentation, the CRD field comments and the ``CheckoutStrategy`` comments all
say semver takes precedence over tag. We follow the documented order; the case needs both fields
set, which the documentation says not to rely on.

Errors mirror Flux's messages: ``couldn't find remote ref "refs/heads/nope"`` (go-git's text,
which source-controller wraps as ``failed to checkout and determine revision: unable to clone
'<url>': …``), ``unable to resolve ref '<name>' to a specific commit``, ``no match found for
semver: <range>``, and ``semver parse error: <Masterminds message>`` for an invalid range, which
is the one a controller should treat as stalling (it cannot succeed until the spec changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from headwater.artifact.revision import git_revision, hash_algorithm
from headwater.source.semver import (
    Constraints,
    InvalidConstraintError,
    InvalidVersionError,
    Version,
    parse_constraint,
    parse_flux_version,
)

__all__ = [
    "DEFAULT_BRANCH",
    "PEELED_SUFFIX",
    "AdvertisedRefs",
    "CheckoutKind",
    "EmptyRepositoryError",
    "FetchPlan",
    "GitRef",
    "GitRefError",
    "InvalidRefError",
    "InvalidRemoteRefError",
    "InvalidSemverRangeError",
    "NoSemverMatchError",
    "RefNotFoundError",
    "normalize_refs",
    "resolve_ref",
    "resolve_ref_name",
    "semver_tags",
]

#: ``ls-remote`` output as dulwich (bytes) or a text parser gives it; ``None`` hashes are skipped.
AdvertisedRefs = Mapping[bytes, bytes | None] | Mapping[str, str | None] | Mapping[bytes | str, bytes | str | None]

#: Branch used when ``spec.ref`` is absent or names nothing (fluxcd/pkg ``DefaultBranch``).
DEFAULT_BRANCH = "master"
#: Suffix of the peeled entry ``ls-remote`` advertises for an annotated tag.
PEELED_SUFFIX = "^{}"

_HEADS = "refs/heads/"
_TAGS = "refs/tags/"


class GitRefError(Exception):
    """Base class: the reference cannot be resolved to something to fetch."""


class RefNotFoundError(GitRefError):
    """The branch, tag or named reference is not advertised by the remote."""

    def __init__(self, ref: str, message: str | None = None) -> None:
        super().__init__(message or f'couldn\'t find remote ref "{ref}"')
        self.ref = ref


class InvalidRefError(GitRefError):
    """The reference in the spec can never resolve (malformed name or commit)."""


class InvalidRemoteRefError(GitRefError):
    """The remote advertised the reference with something that is not a full SHA-1 or SHA-256 object id."""

    def __init__(self, ref: str, sha: str) -> None:
        shown = sha if len(sha) <= 80 else f"{sha[:80]}... ({len(sha)} characters)"
        super().__init__(f"remote advertised ref {ref!r} with an invalid object id {shown!r}")
        self.ref = ref
        self.sha = sha


class EmptyRepositoryError(GitRefError):
    """The remote advertises no references at all."""

    def __init__(self) -> None:
        super().__init__("git repository is empty")


class NoSemverMatchError(GitRefError):
    """No tag satisfies the semver range (may change as tags are pushed)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(f"no match found for semver: {constraint}")
        self.constraint = constraint


class InvalidSemverRangeError(GitRefError):
    """``spec.ref.semver`` is not a valid range: nothing but a spec change can fix it (Stalled)."""

    def __init__(self, constraint: str, cause: InvalidConstraintError) -> None:
        super().__init__(f"semver parse error: {cause}")
        self.constraint = constraint


class CheckoutKind(StrEnum):
    """Which ``spec.ref`` field decided the checkout."""

    BRANCH = "branch"
    TAG = "tag"
    SEMVER = "semver"
    NAME = "name"
    COMMIT = "commit"


@dataclass(frozen=True)
class GitRef:
    """``spec.ref`` of a GitRepository; empty strings mean unset."""

    branch: str = ""
    tag: str = ""
    semver: str = ""
    name: str = ""
    commit: str = ""

    @classmethod
    def from_spec(cls, ref: Mapping[str, Any] | None) -> GitRef:
        """Read the ``spec.ref`` dict (``None`` or missing keys mean unset)."""
        if not ref:
            return cls()

        def text(key: str) -> str:
            value = ref.get(key)
            return value if isinstance(value, str) else ""

        return cls(text("branch"), text("tag"), text("semver"), text("name"), text("commit"))


@dataclass(frozen=True)
class FetchPlan:
    """What to fetch for a ``spec.ref`` and what to report once fetched.

    ``fetch_ref``: the full reference to fetch (``refs/heads/main``, ``refs/tags/v1.0.0``,
    ``refs/pull/1/head``), or ``None`` to fetch all branches (a commit without a branch).
    ``commit``: the commit that must end up checked out. It is always known before fetching:
    the advertisement gives it, or the spec pins it (:attr:`CheckoutKind.COMMIT`); in the latter
    case its existence can only be confirmed after fetching.
    ``checkout_commit``: true when ``commit`` comes from the spec and has to be checked out after
    fetching ``fetch_ref`` (it must be reachable from it; Flux: "fetch branch X, then check out
    commit Y"; with ``fetch_ref`` ``None``, fetch the branches and check it out).
    ``revision``: the artifact revision to report, final before fetching. ``reference``: the Git reference the
    revision is derived from (``""`` for a bare commit). ``tag``/``tag_object``: for a tag
    checkout, the tag name and, for an annotated tag, the tag object's hash (needed to verify
    tag signatures).
    """

    kind: CheckoutKind
    fetch_ref: str | None
    commit: str
    revision: str
    reference: str
    checkout_commit: bool = False
    tag: str | None = None
    tag_object: str | None = None


def normalize_refs(advertised: AdvertisedRefs) -> dict[str, str]:
    """``ls-remote`` output (bytes or text, as dulwich or a parser gives it) as ``{ref: sha}``.

    Entries without a hash (symbolic-ref placeholders) are dropped; hashes are lowercased.
    Names that are not UTF-8 keep their bytes as surrogates (no spec field can name them); a hash is not
    checked here, only when a reference is used (:class:`InvalidRemoteRefError`), so one broken entry does
    not make every other reference of the remote unusable.
    """
    refs: dict[str, str] = {}
    for name, sha in advertised.items():
        if sha is None:
            continue
        key = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
        value = sha.decode("utf-8", "surrogateescape") if isinstance(sha, bytes) else sha
        refs[key] = value.lower()
    return refs


def _object_id(ref: str, sha: str) -> str:
    """``sha`` as advertised for ``ref``, when it is a full object id; :class:`InvalidRemoteRefError` otherwise."""
    try:
        hash_algorithm(sha)
    except ValueError:
        raise InvalidRemoteRefError(ref, sha) from None
    return sha


def _peel(refs: Mapping[str, str], ref: str) -> tuple[str, str | None] | None:
    """(commit, tag object or None) for ``ref``; annotated tags are peeled via ``<ref>^{}``.

    Mirrors fluxcd ``filterRefs``: a non-tag reference, or one already ending in ``^{}``, is taken
    as is; for a tag the peeled entry wins when advertised (the direct entry is then the tag
    object), otherwise the tag is lightweight and points at the commit directly.
    """
    if not ref.startswith(_TAGS) or ref.endswith(PEELED_SUFFIX):
        sha = refs.get(ref)
        return None if sha is None else (_object_id(ref, sha), None)
    peeled = refs.get(ref + PEELED_SUFFIX)
    direct = refs.get(ref)
    if peeled is not None:
        return _object_id(ref + PEELED_SUFFIX, peeled), None if direct is None else _object_id(ref, direct)
    if direct is not None:
        return _object_id(ref, direct), None
    return None


def semver_tags(refs: Mapping[str, str]) -> dict[str, Version]:
    """Every advertised tag whose name Flux accepts as a version, by tag name.

    Nested tag names (``release/v1.0.0``) and non-strict versions (``v1.2``, ``1.0``) are ignored.
    """
    tags: dict[str, Version] = {}
    for ref in refs:
        if not ref.startswith(_TAGS) or ref.endswith(PEELED_SUFFIX):
            continue
        name = ref[len(_TAGS) :]
        try:
            tags[name] = parse_flux_version(name)
        except InvalidVersionError:
            continue
    return tags


def _check_commit(commit: str) -> str:
    try:
        hash_algorithm(commit)
    except ValueError:
        raise InvalidRefError(f"unable to resolve commit object for '{commit}': object not found") from None
    return commit.lower()


def resolve_ref_name(refs: Mapping[str, str], name: str) -> tuple[str, str | None]:
    """The (commit, tag object) ``name`` points to, or :class:`RefNotFoundError`/:class:`InvalidRefError`."""
    if name.startswith("/") or name.endswith("/"):
        raise InvalidRefError(f"ref {name} is invalid; Git refs cannot begin or end with a slash '/'")
    found = _peel(refs, name)
    if found is None:
        raise RefNotFoundError(name, f"unable to resolve ref '{name}' to a specific commit")
    return found


def _plan_commit(refs: Mapping[str, str], ref: GitRef) -> FetchPlan:
    commit = _check_commit(ref.commit)
    fetch_ref: str | None = None
    if ref.branch:
        fetch_ref = _HEADS + ref.branch
        if refs and fetch_ref not in refs:
            raise RefNotFoundError(fetch_ref)
    # The reported reference is the name when given, else the branch, else none.
    reference = ref.name or (fetch_ref or "")
    return FetchPlan(
        kind=CheckoutKind.COMMIT,
        fetch_ref=fetch_ref,
        commit=commit,
        revision=git_revision(reference, commit, absolute=bool(ref.name)),
        reference=reference,
        checkout_commit=True,
    )


def _plan_name(refs: Mapping[str, str], name: str) -> FetchPlan:
    commit, tag_object = resolve_ref_name(refs, name)
    return FetchPlan(
        kind=CheckoutKind.NAME,
        fetch_ref=name,
        commit=commit,
        revision=git_revision(name, commit, absolute=True),
        reference=name,
        tag=name[len(_TAGS) :] if name.startswith(_TAGS) and not name.endswith(PEELED_SUFFIX) else None,
        tag_object=tag_object,
    )


def _tag_plan(refs: Mapping[str, str], tag: str, kind: CheckoutKind) -> FetchPlan:
    reference = _TAGS + tag
    found = _peel(refs, reference)
    if found is None:
        raise RefNotFoundError(reference)
    commit, tag_object = found
    return FetchPlan(
        kind=kind,
        fetch_ref=reference,
        commit=commit,
        revision=git_revision(reference, commit),
        reference=reference,
        tag=tag,
        tag_object=tag_object,
    )


def _parse_range(constraint_text: str) -> Constraints:
    try:
        return parse_constraint(constraint_text)
    except InvalidConstraintError as err:
        raise InvalidSemverRangeError(constraint_text, err) from err


def _plan_semver(
    refs: Mapping[str, str], constraint_text: str, constraint: Constraints, tag_times: Mapping[str, float] | None
) -> FetchPlan:
    matching = [(tag, version) for tag, version in semver_tags(refs).items() if constraint.check(version)]
    if not matching:
        raise NoSemverMatchError(constraint_text)
    times = tag_times or {}

    # Highest precedence wins; among equal versions (build metadata, "v" or not) Flux takes the
    # tag whose commit is newest. Without commit times the tag name decides, for determinism.
    def rank(item: tuple[str, Version]) -> tuple[Version, float, str]:
        tag, version = item
        return version, times.get(tag, float("-inf")), tag

    best_tag, _ = max(matching, key=rank)
    return _tag_plan(refs, best_tag, CheckoutKind.SEMVER)


def _plan_branch(refs: Mapping[str, str], branch: str) -> FetchPlan:
    reference = _HEADS + branch
    commit = refs.get(reference)
    if commit is None:
        raise RefNotFoundError(reference)
    commit = _object_id(reference, commit)
    return FetchPlan(
        kind=CheckoutKind.BRANCH,
        fetch_ref=reference,
        commit=commit,
        revision=git_revision(reference, commit),
        reference=reference,
    )


def resolve_ref(
    advertised: AdvertisedRefs,
    ref: Mapping[str, Any] | GitRef | None,
    *,
    tag_times: Mapping[str, float] | None = None,
) -> FetchPlan:
    """Decide what to fetch for ``spec.ref`` given the remote's ``ls-remote`` advertisement.

    ``advertised`` maps reference names to hashes, including peeled ``refs/tags/<t>^{}`` entries.
    ``ref`` is the ``spec.ref`` dict (or a :class:`GitRef`; ``None`` means the default branch).
    ``tag_times`` optionally maps tag names to their commit times, used only to break ties between
    tags of equal version in a semver selection.

    A pinned commit needs no advertisement (only its branch, when one is given, is checked, and
    only when the advertisement is not empty). A ``name`` that is not advertised raises
    :class:`RefNotFoundError` even for an empty remote; branch, tag and semver raise
    :class:`EmptyRepositoryError` for an empty remote (after an invalid range has been reported).
    """
    spec = ref if isinstance(ref, GitRef) else GitRef.from_spec(ref)
    refs = normalize_refs(advertised)
    if spec.commit:
        return _plan_commit(refs, spec)
    if spec.name:
        # An empty remote has nothing to resolve the name to: Flux reports that, not emptiness.
        return _plan_name(refs, spec.name)
    # Like Flux, an invalid range is reported before anything is known about the remote.
    constraint = _parse_range(spec.semver) if spec.semver else None
    if not refs:
        raise EmptyRepositoryError()
    if constraint is not None:
        return _plan_semver(refs, spec.semver, constraint, tag_times)
    if spec.tag:
        return _tag_plan(refs, spec.tag, CheckoutKind.TAG)
    return _plan_branch(refs, spec.branch or DEFAULT_BRANCH)
