"""Unit tests for the consumer side's pure parts (headwater.artifact.fetch): digests, URLs, safe extraction."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from headwater.artifact.archive import write_archive
from headwater.artifact.fetch import (
    ArtifactError,
    ArtifactTooLarge,
    UnsafeArchive,
    extract_archive,
    parse_digest,
    redact_url,
)

from .conftest import make_tarball, tar_info, write_tree

pytestmark = pytest.mark.unit

HEX = "a" * 64


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        (f"sha256:{HEX}", ("sha256", HEX)),
        (HEX, ("sha256", HEX)),
        ("sha512:" + "b" * 128, ("sha512", "b" * 128)),
        ("sha384:" + "c" * 96, ("sha384", "c" * 96)),
    ],
)
def test_parse_digest(digest: str, expected: tuple[str, str]) -> None:
    assert parse_digest(digest) == expected


@pytest.mark.parametrize("digest", ["", "sha256:", "sha256:xyz", f"sha256:{HEX[:-1]}", f"md5:{HEX}",
                                    f"SHA256:{HEX}", f"sha256:{HEX.upper()}", "blake3:" + HEX])
def test_parse_digest_rejects(digest: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        parse_digest(digest)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("http://user:secret@host:9090/a/b.tar.gz?token=abc#frag", "http://host:9090/a/b.tar.gz"),
        ("http://source-controller.flux-system.svc.cluster.local./gitrepository/x/y/z.tar.gz",
         "http://source-controller.flux-system.svc.cluster.local./gitrepository/x/y/z.tar.gz"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


# -- extraction -------------------------------------------------------------------------------------------

def _archive_of(root: Path) -> bytes:
    out = io.BytesIO()
    write_archive(root, out)
    return out.getvalue()


def _outside_snapshot(base: Path) -> set[str]:
    return {str(p.relative_to(base)) for p in base.rglob("*")}


def test_extract_round_trip(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a/b.yaml": "b", "run.sh": "#!/bin/sh\n", "empty/": ""})
    os.chmod(src / "run.sh", 0o755)
    dest = extract_archive(io.BytesIO(_archive_of(src)), tmp_path / "out" / "dest")
    assert (dest / "a/b.yaml").read_text() == "b"
    assert (dest / "empty").is_dir()
    assert (dest / "run.sh").stat().st_mode & 0o777 == 0o700
    assert (dest / "a/b.yaml").stat().st_mode & 0o777 == 0o600
    assert (dest / "a/b.yaml").stat().st_mtime == 0  # the header's time (the epoch)
    assert sorted(os.listdir(tmp_path / "out")) == ["dest"]  # staging removed


def test_extract_from_path_into_empty_existing_dir(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"x": "x"})
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_archive_of(src))
    (tmp_path / "dest").mkdir()
    assert (extract_archive(archive, tmp_path / "dest") / "x").read_text() == "x"


def test_extract_into_non_empty_dir_fails_and_keeps_it(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"x": "x"})
    dest = write_tree(tmp_path / "dest", {"keep": "me"})
    with pytest.raises(ArtifactError, match="cannot extract"):
        extract_archive(io.BytesIO(_archive_of(src)), dest)
    assert os.listdir(dest) == ["keep"]
    assert sorted(os.listdir(tmp_path)) == ["dest", "src"]


def _reg(name: str, data: bytes = b"data", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    return tar_info(name, mode=mode), data


MALICIOUS: dict[str, list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]] = {
    "absolute path": [_reg("/tmp/evil-absolute")],
    "dot-dot": [_reg("../evil-dotdot")],
    "nested dot-dot": [_reg("ok/../../evil-nested")],
    "dot-dot at the end": [tar_info("x/..", tarfile.DIRTYPE)],
    "backslash": [_reg("..\\evil-backslash")],
    "symlink to /etc": [tar_info("etc", tarfile.SYMTYPE, linkname="/etc"), _reg("etc/evil-through-link")],
    "symlink inside": [_reg("target"), tar_info("link", tarfile.SYMTYPE, linkname="target")],
    "hardlink escape": [tar_info("passwd", tarfile.LNKTYPE, linkname="../../../../etc/passwd")],
    "hardlink inside": [_reg("target"), tar_info("hard", tarfile.LNKTYPE, linkname="target")],
    "char device": [tar_info("null", tarfile.CHRTYPE)],
    "block device": [tar_info("sda", tarfile.BLKTYPE)],
    "fifo": [tar_info("pipe", tarfile.FIFOTYPE)],
    "file named dot": [_reg(".")],
    "empty name": [_reg("")],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archives_are_refused(tmp_path: Path, case: str) -> None:
    base = tmp_path / "sandbox" / "level1" / "level2"
    base.mkdir(parents=True)
    before = _outside_snapshot(tmp_path)
    data = make_tarball(*MALICIOUS[case])
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(io.BytesIO(data), base / "dest", url="http://user:pw@h/x.tar.gz")
    assert "pw" not in str(info.value)
    assert "http://h/x.tar.gz" in str(info.value)
    assert _outside_snapshot(tmp_path) == before  # nothing written anywhere, dest not created
    assert not Path("/tmp/evil-absolute").exists()


def test_an_entry_under_a_file_is_refused_naming_the_entry_not_a_local_path(tmp_path: Path) -> None:
    data = make_tarball(_reg("x"), _reg("x/y"))
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(io.BytesIO(data), tmp_path / "dest", url="http://h/x.tar.gz")
    assert str(info.value).startswith("cannot extract archive from http://h/x.tar.gz: x")
    assert str(tmp_path) not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == []  # the staging directory is gone, dest not created


def test_size_limit(tmp_path: Path) -> None:
    data = make_tarball(_reg("a", bytes(600)), _reg("b", bytes(600)))
    with pytest.raises(ArtifactTooLarge, match="max untar size of 1000 bytes"):
        extract_archive(io.BytesIO(data), tmp_path / "dest", max_untar_size=1000)
    assert not (tmp_path / "dest").exists()
    assert extract_archive(io.BytesIO(data), tmp_path / "ok", max_untar_size=None).is_dir()


def test_gzip_bomb_is_stopped_early(tmp_path: Path) -> None:
    # 64 MiB of zeros in one entry compresses to ~64 KiB; the limit stops it before it is all written.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 64 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = gzip.compress(raw.getvalue(), compresslevel=9)
    assert len(bomb) < 1 << 20
    with pytest.raises(ArtifactTooLarge):
        extract_archive(io.BytesIO(bomb), tmp_path / "dest", max_untar_size=1 << 20)
    assert os.listdir(tmp_path) == []


def test_entry_limit(tmp_path: Path) -> None:
    data = make_tarball(*(_reg(f"f{i}", b"") for i in range(20)))
    with pytest.raises(ArtifactTooLarge, match="more than 10 entries"):
        extract_archive(io.BytesIO(data), tmp_path / "dest", max_entries=10)


@pytest.mark.parametrize("data", [b"not gzip at all", gzip.compress(b"not a tar" * 100), b""])
def test_garbage_is_unsafe(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(UnsafeArchive):
        extract_archive(io.BytesIO(data), tmp_path / "dest")
    assert os.listdir(tmp_path) == []


def test_truncated_archive_is_unsafe(tmp_path: Path) -> None:
    data = make_tarball(_reg("a", os.urandom(50_000)), compress=False)
    with pytest.raises(UnsafeArchive):
        extract_archive(io.BytesIO(gzip.compress(data[:20_000])), tmp_path / "dest")
    assert os.listdir(tmp_path) == []


def test_modes_are_sanitised(tmp_path: Path) -> None:
    data = make_tarball(_reg("suid", b"x", mode=0o4755), _reg("ro", b"y", mode=0o444),
                        tar_info("d", tarfile.DIRTYPE, mode=0o500), _reg("d/f", b"z"))
    dest = extract_archive(io.BytesIO(data), tmp_path / "dest")
    assert (dest / "suid").stat().st_mode & 0o7777 == 0o755
    assert (dest / "ro").stat().st_mode & 0o777 == 0o644
    assert (dest / "d").stat().st_mode & 0o777 == 0o700
    assert (dest / "d/f").read_text() == "z"


def test_dot_slash_names_and_duplicates(tmp_path: Path) -> None:
    data = make_tarball(tar_info("./", tarfile.DIRTYPE), _reg("./a/b", b"first"), _reg("a/b", b"second"),
                        _reg("a//c", b"c"))
    dest = extract_archive(io.BytesIO(data), tmp_path / "dest")
    assert (dest / "a/b").read_text() == "second"
    assert (dest / "a/c").read_text() == "c"


def test_file_over_directory_is_unsafe(tmp_path: Path) -> None:
    data = make_tarball(tar_info("a", tarfile.DIRTYPE), _reg("a", b"file"))
    with pytest.raises(UnsafeArchive):
        extract_archive(io.BytesIO(data), tmp_path / "dest")
