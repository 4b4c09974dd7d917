"""Unit tests for headwater.artifact.revision (Flux Git revision strings)."""

from __future__ import annotations

import pytest

from headwater.artifact.revision import (
    SHA1,
    SHA256,
    Revision,
    artifact_up_to_date_message,
    branch_revision,
    commit_revision,
    commit_short_message,
    digest,
    extract_hash,
    git_revision,
    has_revision,
    hash_algorithm,
    new_artifact_event_message,
    new_upstream_revision_message,
    no_changes_message,
    normalize_revision,
    parse_revision,
    ref_name_revision,
    same_revision,
    short_ref,
    stored_artifact_message,
    tag_revision,
)

pytestmark = pytest.mark.unit

H1 = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738"
H2 = "132f4e719209eb10b9485302f8593fc0e680f4fc"
H256 = "55609ff9d959589ed917ce32e6bc0f0a36809565f308602c15c3668965979edc"


@pytest.mark.parametrize(
    ("sha", "algorithm"),
    [(H1, SHA1), (H256, SHA256), (H1.upper(), SHA1)],
)
def test_hash_algorithm(sha: str, algorithm: str) -> None:
    assert hash_algorithm(sha) == algorithm


@pytest.mark.parametrize("sha", ["", "abc", H1[:-1], H1 + "0", "g" * 40, H256 + "00", "z" * 64])
def test_hash_algorithm_rejects(sha: str) -> None:
    with pytest.raises(ValueError, match="SHA"):
        hash_algorithm(sha)


def test_digest_is_lowercase() -> None:
    assert digest(H1.upper()) == f"sha1:{H1}"
    assert digest(H256) == f"sha256:{H256}"


@pytest.mark.parametrize(
    ("reference", "short"),
    [
        ("refs/heads/main", "main"),
        ("refs/heads/feature/x", "feature/x"),
        ("refs/tags/v1.0.0", "v1.0.0"),
        ("refs/tags/release/v1", "release/v1"),
        ("refs/pull/1/head", "1/head"),
        ("refs/heads", ""),
        ("main", ""),
        ("", ""),
    ],
)
def test_short_ref(reference: str, short: str) -> None:
    assert short_ref(reference) == short


REVISIONS = [
    # reference, sha, absolute, expected
    ("refs/heads/main", H1, False, f"main@sha1:{H1}"),
    ("refs/heads/master", H2, False, f"master@sha1:{H2}"),
    ("refs/heads/feature/x", H1, False, f"feature/x@sha1:{H1}"),
    ("refs/tags/v1.2.3", H1, False, f"v1.2.3@sha1:{H1}"),
    ("refs/tags/6.0.3", H1, False, f"6.0.3@sha1:{H1}"),
    ("refs/pull/1/head", H1, True, f"refs/pull/1/head@sha1:{H1}"),
    ("refs/merge-requests/1/head", H1, True, f"refs/merge-requests/1/head@sha1:{H1}"),
    ("refs/heads/main", H1, True, f"refs/heads/main@sha1:{H1}"),
    ("", H1, False, f"sha1:{H1}"),
    ("", H1, True, f"sha1:{H1}"),
    ("refs/heads/main", H256, False, f"main@sha256:{H256}"),
    ("", H256, False, f"sha256:{H256}"),
    ("refs/heads/main", H1.upper(), False, f"main@sha1:{H1}"),
]


@pytest.mark.parametrize(("reference", "sha", "absolute", "expected"), REVISIONS)
def test_git_revision(reference: str, sha: str, absolute: bool, expected: str) -> None:
    assert git_revision(reference, sha, absolute=absolute) == expected


def test_revision_shortcuts() -> None:
    assert branch_revision("main", H1) == f"main@sha1:{H1}"
    assert branch_revision("feature/a-b", H1) == f"feature/a-b@sha1:{H1}"
    assert tag_revision("v1.0.0", H2) == f"v1.0.0@sha1:{H2}"
    assert ref_name_revision("refs/pull/420/head", H1) == f"refs/pull/420/head@sha1:{H1}"
    assert commit_revision(H1) == f"sha1:{H1}"
    assert commit_revision(H256) == f"sha256:{H256}"


PARSE = [
    # text, name, algorithm, hex, legacy
    (f"main@sha1:{H1}", "main", SHA1, H1, False),
    (f"feature/branch@sha1:{H1}", "feature/branch", SHA1, H1, False),
    (f"refs/pull/1/head@sha1:{H1}", "refs/pull/1/head", SHA1, H1, False),
    (f"v1.2.3@sha1:{H1}", "v1.2.3", SHA1, H1, False),
    (f"sha1:{H1}", "", SHA1, H1, False),
    (f"main@sha256:{H256}", "main", SHA256, H256, False),
    (f"sha256:{H256}", "", SHA256, H256, False),
    (f"user@host@sha1:{H1}", "user@host", SHA1, H1, False),
    (f"main/{H1}", "main", SHA1, H1, True),
    (f"feature/branch/{H1}", "feature/branch", SHA1, H1, True),
    (f"HEAD/{H1}", "", SHA1, H1, True),
    (f"tag/{H256}", "tag", SHA256, H256, True),
    (H1, "", SHA1, H1, True),
    (H256, "", SHA256, H256, True),
]


@pytest.mark.parametrize(("text", "name", "algorithm", "hexa", "legacy"), PARSE)
def test_parse_revision(text: str, name: str, algorithm: str, hexa: str, legacy: bool) -> None:
    revision = parse_revision(text)
    assert revision == Revision(name, algorithm, hexa, legacy)
    assert revision.digest == f"{algorithm}:{hexa}"
    assert str(revision) == normalize_revision(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "main",
        "6.0.3",
        "6.0.3+1",
        f"main@sha1:{H1[:-1]}",
        f"main@sha256:{H1}",  # length does not fit the algorithm
        f"main@md5:{H1}",
        f"@sha1:{H1}",
        f"main@sha1:{H1.upper()}",
        f"main/{H1.upper()}",
        f"/{H1}",
        f"main/{H1[:-2]}",
        "latest@sha256:xyz",
    ],
)
def test_parse_revision_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a Git revision"):
        parse_revision(text)


NORMALIZE = [
    (f"main/{H1}", f"main@sha1:{H1}"),
    (f"feature/branch/{H1}", f"feature/branch@sha1:{H1}"),
    (f"HEAD/{H1}", f"sha1:{H1}"),
    (f"tag/{H256}", f"tag@sha256:{H256}"),
    (H256, f"sha256:{H256}"),
    (H1, f"sha1:{H1}"),
    (f"main@sha1:{H1}", f"main@sha1:{H1}"),
    (f"sha1:{H1}", f"sha1:{H1}"),
    ("6.0.3", "6.0.3"),
    ("", ""),
    (f"main/{H1.upper()}", f"main/{H1.upper()}"),  # only lowercase hex is recognised
    (f"main/{H1[:-1]}", f"main/{H1[:-1]}"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE)
def test_normalize_revision(text: str, expected: str) -> None:
    assert normalize_revision(text) == expected


SAME = [
    (f"main@sha1:{H1}", f"main@sha1:{H1}", True, True),
    (f"main/{H1}", f"main@sha1:{H1}", True, False),
    (f"HEAD/{H1}", f"sha1:{H1}", True, False),
    (H1, f"sha1:{H1}", True, False),
    (f"main@sha1:{H1}", f"main@sha1:{H2}", False, False),
    (f"main@sha1:{H1}", f"dev@sha1:{H1}", False, False),
    (f"main/{H1}", f"sha1:{H1}", False, False),
    (f"main@sha1:{H1}", f"refs/heads/main@sha1:{H1}", False, False),
    (f"main@sha1:{H1}", f"main@sha256:{H256}", False, False),
]


@pytest.mark.parametrize(("current", "new", "same", "exact"), SAME)
def test_same_revision_and_has_revision(current: str, new: str, same: bool, exact: bool) -> None:
    assert same_revision(current, new) is same
    assert same_revision(new, current) is same
    assert has_revision(current, new) is exact


def test_no_artifact_never_has_revision() -> None:
    assert has_revision(None, f"main@sha1:{H1}") is False
    assert same_revision(None, f"main@sha1:{H1}") is False
    assert same_revision(f"main@sha1:{H1}", None) is False


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        (f"main@sha1:{H1}", H1),
        (f"feature/branch@sha1:{H1}", H1),
        (f"sha1:{H1}", H1),
        (f"main/{H1}", H1),
        (f"feature/branch/{H1}", H1),
        (H1, H1),
        (f"main@sha256:{H256}", H256),
    ],
)
def test_extract_hash(revision: str, expected: str) -> None:
    assert extract_hash(revision) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Merge pull request #160 from stefanprodan/release-6.0.3\n\nRelease v6.0.3", None),
        ("Merge pull request #16 from stefanprodan/rel-6.0.3\n\nRelease", None),
        ("fix: x\nbody", "fix: x"),
        ("a" * 50, "a" * 50),
        ("a" * 51, "a" * 50 + "..."),
        ("é" * 60 + "\nbody", "é" * 50 + "..."),
        ("", ""),
    ],
)
def test_commit_short_message(message: str, expected: str | None) -> None:
    subject = message.split("\n")[0]
    if expected is None:
        expected = subject if len(subject) <= 50 else subject[:50] + "..."
    assert commit_short_message(message) == expected


def test_messages() -> None:
    rev = f"master@sha1:{H2}"
    assert stored_artifact_message(rev) == f"stored artifact for revision 'master@sha1:{H2}'"
    assert new_upstream_revision_message(rev) == f"new upstream revision 'master@sha1:{H2}'"
    assert artifact_up_to_date_message(rev) == f"artifact up-to-date with remote revision: 'master@sha1:{H2}'"
    assert no_changes_message(rev) == f"no changes since last reconcilation: observed revision '{rev}'"
    assert (
        new_artifact_event_message(rev, "Merge pull request #160 from stefanprodan/release-6.0.3\n\nbody")
        == "stored artifact for commit 'Merge pull request #160 from stefanprodan/release-...'"
    )
    assert new_artifact_event_message(rev, "fix: typo") == "stored artifact for commit 'fix: typo'"
    assert new_artifact_event_message(rev) == f"stored artifact for commit '{rev}'"
