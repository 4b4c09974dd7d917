"""Unit tests for the artifact server's request logic (ranges, content types, ETags, path resolution)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headwater.artifact.server import (
    ArtifactServer,
    ByteRange,
    RangeNotSatisfiable,
    _etag_matches,
    content_type,
    parse_range,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-1000", 100, ByteRange(0, 99)),
        ("bytes=95-1000", 100, ByteRange(95, 99)),
        ("bytes=99-99", 100, ByteRange(99, 99)),
        (" bytes = 1-2 ", 100, ByteRange(1, 2)),
        ("BYTES=1-2", 100, ByteRange(1, 2)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: whole file
        ("bytes=200-300,5-6", 100, None),
        ("bytes=0-" + "9" * 40, 100, ByteRange(0, 99)),  # a last position past any file is clamped
        ("bytes=-" + "9" * 5000, 100, ByteRange(0, 99)),  # and costs no big-integer parse
        ("bytes=-5", 0, None),  # satisfiable, but an empty file has no range to name: all of it
        # Ignored (RFC 9110 section 14.2): another unit, or a malformed header; the whole file is sent.
        ("items=0-1", 100, None),
        ("bytes=abc", 100, None),
        ("bytes=1-x", 100, None),
        ("bytes=", 100, None),
        ("bytes=--1", 100, None),
        ("bytes=5-1", 100, None),  # inverted: "invalid" in section 14.1.1
        ("bytes=0-1,5-1", 100, None),  # one invalid range makes the whole set invalid
        ("bytes=200-300,x", 100, None),
        ("0-1", 100, None),
        ("bytes=+1-2", 100, None),
        ("bytes=\u0661-\u0662", 100, None),  # non-ASCII (Arabic-Indic) digits
        ("", 100, None),
    ],
)
def test_parse_range(header: str, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [  # well formed, and no range overlaps the file: 416
        ("bytes=100-", 100),  # starts past the end
        ("bytes=100-200", 100),
        ("bytes=" + "9" * 40 + "-", 100),
        ("bytes=-0", 100),
        ("bytes=200-300,400-", 100),
        ("bytes=-0,100-", 100),
        ("bytes=0-0", 0),
        ("BYTES = 0- ", 0),
    ],
)
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("abc.tar.gz", "application/x-gzip"),
        ("latest.tar.gz", "application/x-gzip"),
        ("podinfo-6.0.3.tgz", "application/x-gzip"),
        ("index-abc.yaml", "text/plain; charset=utf-8"),
        ("blob", "application/octet-stream"),
    ],
)
def test_content_type(name: str, kind: str) -> None:
    assert content_type(name) == kind


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"sha256:ab"', True),
        ('W/"sha256:ab"', True),
        ('"x", "sha256:ab"', True),
        ("*", True),
        ('"sha256:cd"', False),
        ("sha256:ab", False),
        ("", False),
    ],
)
def test_if_none_match(header: str, matches: bool) -> None:
    assert _etag_matches(header, '"sha256:ab"') is matches


@pytest.fixture
def server(tmp_path: Path) -> ArtifactServer:
    root = tmp_path / "data"
    (root / "gitrepository/ns/app").mkdir(parents=True)
    (root / "gitrepository/ns/app/abc.tar.gz").write_bytes(b"artifact")
    (root / "gitrepository/ns/app/.abc.tar.gz.123.tmp").write_bytes(b"partial")
    os.symlink(root / "gitrepository/ns/app/abc.tar.gz", root / "gitrepository/ns/app/latest.tar.gz")
    (tmp_path / "secret").write_text("outside")
    os.symlink(tmp_path / "secret", root / "gitrepository/ns/app/escape")
    os.symlink("../../../../secret", root / "gitrepository/ns/app/relative-escape")
    return ArtifactServer(root)


@pytest.mark.parametrize(
    ("raw_path", "ok"),
    [
        ("/gitrepository/ns/app/abc.tar.gz", True),
        ("/gitrepository/ns/app/latest.tar.gz", True),
        ("/gitrepository/ns/app/%61bc.tar.gz", True),
        ("/gitrepository/ns/app/escape", False),
        ("/gitrepository/ns/app/relative-escape", False),
        ("/gitrepository/ns/app/.abc.tar.gz.123.tmp", False),
        ("/gitrepository/ns/app/../app/abc.tar.gz", False),
        ("/gitrepository/ns/app/%2e%2e/app/abc.tar.gz", False),
        ("/gitrepository%2fns%2fapp%2fabc.tar.gz", False),
        ("/gitrepository//ns/app/abc.tar.gz", False),
        ("/gitrepository/./ns/app/abc.tar.gz", False),
        ("/../../../../etc/passwd", False),
        ("/%2e%2e/%2e%2e/etc/passwd", False),
        ("//etc/passwd", False),
        ("/gitrepository/ns/app/missing", False),
        ("/gitrepository/ns/app/abc.tar.gz%00", False),
        ("/gitrepository\\ns", False),
        ("relative", False),
    ],
)
def test_resolve(server: ArtifactServer, raw_path: str, ok: bool) -> None:
    resolved = server.resolve(raw_path)
    if ok:
        assert resolved == server.root / "gitrepository/ns/app/abc.tar.gz"
    else:
        assert resolved is None


def test_resolve_directory_is_not_a_file(server: ArtifactServer) -> None:
    # resolve() finds it; the handler then refuses anything but a regular file (tested with a real server)
    assert server.resolve("/gitrepository/ns") == server.root / "gitrepository/ns"
