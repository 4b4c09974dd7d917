"""Unit tests for headwater.source.gitref (GitRepository spec.ref resolution)."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.source.gitref import (
    DEFAULT_BRANCH,
    CheckoutKind,
    EmptyRepositoryError,
    FetchPlan,
    GitRef,
    GitRefError,
    InvalidRefError,
    InvalidSemverRangeError,
    NoSemverMatchError,
    RefNotFoundError,
    normalize_refs,
    resolve_ref,
    resolve_ref_name,
    semver_tags,
)
from headwater.source.semver import InvalidConstraintError

pytestmark = pytest.mark.unit


def sha(char: str) -> str:
    return char * 40


MASTER, MAIN, FEATURE, PR = sha("a"), sha("b"), sha("c"), sha("d")
V100_TAG_OBJ, V100 = sha("e"), sha("f")  # annotated: tag object and peeled commit
V110 = sha("1")  # lightweight
V120_RC1 = sha("2")
V200 = sha("3")
BARE_100 = sha("4")  # "1.0.0" without the v
V111_OBJ, V111 = sha("5"), sha("6")
NESTED = sha("7")
LOOSE = sha("8")
BUILD_A, BUILD_B = sha("9"), sha("0")

# What `git ls-remote` (dulwich) advertises: bytes, peeled annotated tags as "^{}".
ADVERTISED: dict[bytes | str, bytes | str | None] = {
    b"HEAD": MAIN.encode(),
    b"refs/heads/master": MASTER.encode(),
    b"refs/heads/main": MAIN.encode(),
    b"refs/heads/feature/login": FEATURE.encode(),
    b"refs/pull/1/head": PR.encode(),
    b"refs/tags/v1.0.0": V100_TAG_OBJ.encode(),
    b"refs/tags/v1.0.0^{}": V100.encode(),
    b"refs/tags/v1.1.0": V110.encode(),
    b"refs/tags/v1.1.1": V111_OBJ.encode(),
    b"refs/tags/v1.1.1^{}": V111.encode(),
    b"refs/tags/v1.2.0-rc.1": V120_RC1.encode(),
    b"refs/tags/v2.0.0": V200.encode(),
    b"refs/tags/0.9.0": BARE_100.encode(),
    b"refs/tags/release/v3.0.0": NESTED.encode(),
    b"refs/tags/v4.0": LOOSE.encode(),
    b"refs/tags/latest": MAIN.encode(),
}

PLANS: list[tuple[dict[str, Any] | None, CheckoutKind, str | None, str, str | None]] = [
    # spec.ref, kind, fetch ref, commit, revision
    (None, CheckoutKind.BRANCH, "refs/heads/master", MASTER, f"master@sha1:{MASTER}"),
    ({}, CheckoutKind.BRANCH, "refs/heads/master", MASTER, f"master@sha1:{MASTER}"),
    ({"branch": ""}, CheckoutKind.BRANCH, "refs/heads/master", MASTER, f"master@sha1:{MASTER}"),
    ({"branch": "main"}, CheckoutKind.BRANCH, "refs/heads/main", MAIN, f"main@sha1:{MAIN}"),
    (
        {"branch": "feature/login"},
        CheckoutKind.BRANCH,
        "refs/heads/feature/login",
        FEATURE,
        f"feature/login@sha1:{FEATURE}",
    ),
    # tags: annotated tags resolve to the peeled commit
    ({"tag": "v1.0.0"}, CheckoutKind.TAG, "refs/tags/v1.0.0", V100, f"v1.0.0@sha1:{V100}"),
    ({"tag": "v1.1.0"}, CheckoutKind.TAG, "refs/tags/v1.1.0", V110, f"v1.1.0@sha1:{V110}"),
    ({"tag": "latest"}, CheckoutKind.TAG, "refs/tags/latest", MAIN, f"latest@sha1:{MAIN}"),
    ({"tag": "release/v3.0.0"}, CheckoutKind.TAG, "refs/tags/release/v3.0.0", NESTED, f"release/v3.0.0@sha1:{NESTED}"),
    ({"tag": "v1.0.0", "branch": "main"}, CheckoutKind.TAG, "refs/tags/v1.0.0", V100, f"v1.0.0@sha1:{V100}"),
    # semver: highest matching strict tag, pre-releases only when asked for
    ({"semver": "*"}, CheckoutKind.SEMVER, "refs/tags/v2.0.0", V200, f"v2.0.0@sha1:{V200}"),
    ({"semver": ">=1.0.0 <2.0.0"}, CheckoutKind.SEMVER, "refs/tags/v1.1.1", V111, f"v1.1.1@sha1:{V111}"),
    ({"semver": "~1.0"}, CheckoutKind.SEMVER, "refs/tags/v1.0.0", V100, f"v1.0.0@sha1:{V100}"),
    ({"semver": "1.1.x"}, CheckoutKind.SEMVER, "refs/tags/v1.1.1", V111, f"v1.1.1@sha1:{V111}"),
    ({"semver": "^1.0.0"}, CheckoutKind.SEMVER, "refs/tags/v1.1.1", V111, f"v1.1.1@sha1:{V111}"),
    (
        {"semver": ">=1.2.0-0 <2.0.0"},
        CheckoutKind.SEMVER,
        "refs/tags/v1.2.0-rc.1",
        V120_RC1,
        f"v1.2.0-rc.1@sha1:{V120_RC1}",
    ),
    ({"semver": "<1.0.0"}, CheckoutKind.SEMVER, "refs/tags/0.9.0", BARE_100, f"0.9.0@sha1:{BARE_100}"),
    ({"semver": "1.0.0"}, CheckoutKind.SEMVER, "refs/tags/v1.0.0", V100, f"v1.0.0@sha1:{V100}"),
    ({"semver": "1.0.0 - 1.1.0"}, CheckoutKind.SEMVER, "refs/tags/v1.1.0", V110, f"v1.1.0@sha1:{V110}"),
    ({"semver": "<1.0.0 || >=2.0.0"}, CheckoutKind.SEMVER, "refs/tags/v2.0.0", V200, f"v2.0.0@sha1:{V200}"),
    # semver beats tag and branch (documented precedence)
    ({"semver": "~1.0", "tag": "v2.0.0", "branch": "main"}, CheckoutKind.SEMVER, "refs/tags/v1.0.0", V100, None),
    # name: any full reference; the revision keeps the full name
    ({"name": "refs/pull/1/head"}, CheckoutKind.NAME, "refs/pull/1/head", PR, f"refs/pull/1/head@sha1:{PR}"),
    ({"name": "refs/heads/main"}, CheckoutKind.NAME, "refs/heads/main", MAIN, f"refs/heads/main@sha1:{MAIN}"),
    ({"name": "refs/tags/v1.0.0"}, CheckoutKind.NAME, "refs/tags/v1.0.0", V100, f"refs/tags/v1.0.0@sha1:{V100}"),
    ({"name": "refs/tags/v1.1.0"}, CheckoutKind.NAME, "refs/tags/v1.1.0", V110, f"refs/tags/v1.1.0@sha1:{V110}"),
    (
        {"name": "refs/tags/v1.0.0^{}"},
        CheckoutKind.NAME,
        "refs/tags/v1.0.0^{}",
        V100,
        f"refs/tags/v1.0.0^{{}}@sha1:{V100}",
    ),
    ({"name": "HEAD"}, CheckoutKind.NAME, "HEAD", MAIN, f"HEAD@sha1:{MAIN}"),
    ({"name": "refs/pull/1/head", "semver": "*", "tag": "v1.0.0"}, CheckoutKind.NAME, "refs/pull/1/head", PR, None),
    # commit: always wins; with a branch, fetch the branch then check the commit out
    ({"commit": PR}, CheckoutKind.COMMIT, None, PR, f"sha1:{PR}"),
    ({"commit": PR, "branch": "main"}, CheckoutKind.COMMIT, "refs/heads/main", PR, f"main@sha1:{PR}"),
    (
        {"commit": PR, "branch": "feature/login"},
        CheckoutKind.COMMIT,
        "refs/heads/feature/login",
        PR,
        f"feature/login@sha1:{PR}",
    ),
    ({"commit": PR.upper()}, CheckoutKind.COMMIT, None, PR, f"sha1:{PR}"),
    ({"commit": PR, "tag": "v1.0.0", "semver": "*"}, CheckoutKind.COMMIT, None, PR, f"sha1:{PR}"),
    ({"commit": PR, "name": "refs/pull/1/head"}, CheckoutKind.COMMIT, None, PR, f"refs/pull/1/head@sha1:{PR}"),
    ({"commit": "b" * 64}, CheckoutKind.COMMIT, None, "b" * 64, f"sha256:{'b' * 64}"),
]


@pytest.mark.parametrize(("spec", "kind", "fetch_ref", "commit", "revision"), PLANS)
def test_resolve_ref(
    spec: dict[str, Any] | None, kind: CheckoutKind, fetch_ref: str | None, commit: str, revision: str | None
) -> None:
    plan = resolve_ref(ADVERTISED, spec)
    assert plan.kind is kind
    assert plan.fetch_ref == fetch_ref
    assert plan.commit == commit
    if revision is not None:
        assert plan.revision == revision
    assert plan.checkout_commit is (kind is CheckoutKind.COMMIT)


def test_default_branch_is_master_not_remote_head() -> None:
    assert DEFAULT_BRANCH == "master"
    plan = resolve_ref(ADVERTISED, None)
    assert plan.commit != dict(normalize_refs(ADVERTISED))["HEAD"]


def test_annotated_tag_plan_carries_tag_object() -> None:
    plan = resolve_ref(ADVERTISED, {"tag": "v1.0.0"})
    assert (plan.tag, plan.tag_object, plan.reference) == ("v1.0.0", V100_TAG_OBJ, "refs/tags/v1.0.0")
    light = resolve_ref(ADVERTISED, {"tag": "v1.1.0"})
    assert (light.tag, light.tag_object) == ("v1.1.0", None)
    named = resolve_ref(ADVERTISED, {"name": "refs/tags/v1.0.0"})
    assert (named.tag, named.tag_object) == ("v1.0.0", V100_TAG_OBJ)
    assert resolve_ref(ADVERTISED, {"name": "refs/pull/1/head"}).tag is None
    assert resolve_ref(ADVERTISED, {"branch": "main"}).tag is None


def test_plan_reference_field() -> None:
    assert resolve_ref(ADVERTISED, {"branch": "main"}).reference == "refs/heads/main"
    assert resolve_ref(ADVERTISED, {"commit": PR}).reference == ""
    assert resolve_ref(ADVERTISED, {"commit": PR, "branch": "main"}).reference == "refs/heads/main"


def test_accepts_text_refs_and_gitref() -> None:
    text: dict[str, str | None] = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in ADVERTISED.items()
    }
    assert resolve_ref(text, GitRef(branch="main")) == resolve_ref(ADVERTISED, {"branch": "main"})


def test_semver_ignores_non_strict_and_nested_tags() -> None:
    tags = semver_tags(normalize_refs(ADVERTISED))
    assert sorted(tags) == ["0.9.0", "v1.0.0", "v1.1.0", "v1.1.1", "v1.2.0-rc.1", "v2.0.0"]
    assert tags["v1.0.0"].original == "v1.0.0"
    with pytest.raises(NoSemverMatchError):
        resolve_ref(ADVERTISED, {"semver": ">=3.0.0"})  # only release/v3.0.0 and v4.0 would fit


SEMVER_TIES = [
    # equal precedence: build metadata and the "v" do not count; newest commit wins, then name
    (
        {"refs/tags/v1.0.0+a": BUILD_A, "refs/tags/v1.0.0+b": BUILD_B},
        {"v1.0.0+a": 200.0, "v1.0.0+b": 100.0},
        "v1.0.0+a",
    ),
    (
        {"refs/tags/v1.0.0+a": BUILD_A, "refs/tags/v1.0.0+b": BUILD_B},
        {"v1.0.0+a": 100.0, "v1.0.0+b": 200.0},
        "v1.0.0+b",
    ),
    ({"refs/tags/v1.0.0+a": BUILD_A, "refs/tags/v1.0.0+b": BUILD_B}, None, "v1.0.0+b"),
    ({"refs/tags/1.0.0": BUILD_A, "refs/tags/v1.0.0": BUILD_B}, None, "v1.0.0"),
    ({"refs/tags/1.0.0": BUILD_A, "refs/tags/v1.0.0": BUILD_B}, {"1.0.0": 5.0}, "1.0.0"),
]


@pytest.mark.parametrize(("refs", "times", "expected"), SEMVER_TIES)
def test_semver_ties(refs: dict[str, str], times: dict[str, float] | None, expected: str) -> None:
    plan = resolve_ref(refs, {"semver": "1.0.0"}, tag_times=times)
    assert plan.tag == expected
    assert plan.revision.startswith(f"{expected}@sha1:")


ERRORS: list[tuple[dict[str, Any], type[GitRefError], str]] = [
    ({"branch": "nope"}, RefNotFoundError, 'couldn\'t find remote ref "refs/heads/nope"'),
    ({"branch": "refs/heads/main"}, RefNotFoundError, 'couldn\'t find remote ref "refs/heads/refs/heads/main"'),
    ({"tag": "v9.9.9"}, RefNotFoundError, 'couldn\'t find remote ref "refs/tags/v9.9.9"'),
    ({"commit": PR, "branch": "gone"}, RefNotFoundError, 'couldn\'t find remote ref "refs/heads/gone"'),
    ({"name": "refs/pull/2/head"}, RefNotFoundError, "unable to resolve ref 'refs/pull/2/head' to a specific commit"),
    ({"name": "main"}, RefNotFoundError, "unable to resolve ref 'main' to a specific commit"),
    ({"name": "/refs/heads/main"}, InvalidRefError, "ref /refs/heads/main is invalid; Git refs cannot begin or end"),
    ({"name": "refs/heads/"}, InvalidRefError, "ref refs/heads/ is invalid"),
    ({"commit": "abc123"}, InvalidRefError, "unable to resolve commit object for 'abc123': object not found"),
    ({"commit": "z" * 40}, InvalidRefError, "unable to resolve commit object"),
    ({"semver": ">=5.0.0"}, NoSemverMatchError, "no match found for semver: >=5.0.0"),
    ({"semver": "~0.1"}, NoSemverMatchError, "no match found for semver: ~0.1"),
    ({"semver": ">= bar"}, InvalidSemverRangeError, "semver parse error: improper constraint: >= bar"),
    ({"semver": "1.2.3-01"}, InvalidSemverRangeError, "semver parse error: constraint parser error"),
    ({"semver": "x1", "tag": "v1.0.0"}, InvalidSemverRangeError, "semver parse error"),
]


@pytest.mark.parametrize(("spec", "error", "message"), ERRORS)
def test_errors(spec: dict[str, Any], error: type[GitRefError], message: str) -> None:
    with pytest.raises(error) as info:
        resolve_ref(ADVERTISED, spec)
    assert str(info.value).startswith(message)


def test_ref_not_found_names_the_ref() -> None:
    with pytest.raises(RefNotFoundError) as info:
        resolve_ref(ADVERTISED, {"branch": "nope"})
    assert info.value.ref == "refs/heads/nope"


def test_invalid_range_is_distinct_and_keeps_cause() -> None:
    with pytest.raises(InvalidSemverRangeError) as info:
        resolve_ref(ADVERTISED, {"semver": "not a range"})
    assert not isinstance(info.value, NoSemverMatchError)
    assert info.value.constraint == "not a range"
    assert isinstance(info.value.__cause__, InvalidConstraintError)


EMPTY_REMOTE: list[tuple[dict[str, Any] | None, type[GitRefError] | None]] = [
    (None, EmptyRepositoryError),
    ({"branch": "main"}, EmptyRepositoryError),
    ({"tag": "v1"}, EmptyRepositoryError),
    ({"semver": "*"}, EmptyRepositoryError),
    ({"semver": ">= bar"}, InvalidSemverRangeError),  # reported before looking at the remote
    ({"name": "refs/heads/main"}, RefNotFoundError),
    ({"commit": PR}, None),
    ({"commit": PR, "branch": "main"}, None),  # nothing to check the branch against
]


@pytest.mark.parametrize(("spec", "error"), EMPTY_REMOTE)
def test_empty_remote(spec: dict[str, Any] | None, error: type[GitRefError] | None) -> None:
    if error is None:
        assert isinstance(resolve_ref({}, spec), FetchPlan)
    else:
        with pytest.raises(error):
            resolve_ref({}, spec)


def test_empty_repository_message() -> None:
    with pytest.raises(EmptyRepositoryError, match=r"^git repository is empty$"):
        resolve_ref({}, None)


def test_gitref_from_spec() -> None:
    assert GitRef.from_spec(None) == GitRef()
    assert GitRef.from_spec({"branch": "main", "commit": PR, "unknown": 1}) == GitRef(branch="main", commit=PR)
    assert GitRef.from_spec({"tag": None, "semver": 5}) == GitRef()


def test_normalize_refs() -> None:
    mixed: dict[bytes | str, bytes | str | None] = {
        b"refs/heads/main": MAIN.upper().encode(),
        "refs/tags/x": PR,
        b"HEAD": None,
    }
    refs = normalize_refs(mixed)
    assert refs == {"refs/heads/main": MAIN, "refs/tags/x": PR}


@pytest.mark.parametrize(
    ("name", "commit", "tag_object"),
    [
        ("refs/tags/v1.0.0", V100, V100_TAG_OBJ),
        ("refs/tags/v1.0.0^{}", V100, None),
        ("refs/tags/v1.1.0", V110, None),
        ("refs/heads/main", MAIN, None),
        ("refs/pull/1/head", PR, None),
    ],
)
def test_resolve_ref_name(name: str, commit: str, tag_object: str | None) -> None:
    assert resolve_ref_name(normalize_refs(ADVERTISED), name) == (commit, tag_object)


def test_peeled_entry_alone_still_resolves_the_tag() -> None:
    refs = {"refs/tags/v1.0.0^{}": V100}
    assert resolve_ref(refs, {"tag": "v1.0.0"}).commit == V100
