"""Artifact extraction (`headwater.artifact.fetch.extract_archive`) of hostile `.tar.gz` streams.

Archives are generated member by member (absolute names, `..`, symlinks and hard links pointing out of the
destination, devices, FIFOs, sparse and unknown types, huge declared sizes, PAX records with absurd values,
truncated streams) or mutated from real artifacts in the corpus. Each is extracted into a fresh jail:
nothing outside the destination may change (a canary file outside must stay as it is, no new path may
appear), no staging directory may be left behind, only `ArtifactError` and its subclasses may escape, and a
successful extraction holds only regular files and directories.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from headwater.artifact.fetch import ArtifactError, extract_archive
from tests.fuzz.harness import corpus_bytes, fuzz, mutated

TARGET = "tarball"
JAIL_MARK = "@JAIL@"  # replaced by the jail's absolute path when the archive is built
MAX_UNTAR = 256 * 1024
MAX_ENTRIES = 64
CANARY = b"the canary outside the destination\n"
#: Where the absolute names of corpus files point (their jail is not known when they are written).
FIXED_OUTSIDE = "/tmp/headwater-fuzz-outside"

TYPES = [tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
         tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE, b"Z", b"7"]
NAMES = ["ok.yaml", "./ok.yaml", "dir", "dir/", "dir/file.yaml", ".", "./", "", "/abs", f"{JAIL_MARK}/outside/victim",
         f"{JAIL_MARK}/outside/new", "../escape", "dir/../../escape", "dir/../ok", "a\\..\\b", "link", "link/through",
         "x" * 300, "d/" * 60 + "deep", "é/ü.yaml", "ok.yaml/child", "\udcff.bin", "dir/./././f"]
LINKS = ["", f"{JAIL_MARK}/outside/victim", f"{JAIL_MARK}/outside", "../../outside/victim", "/etc/passwd", "ok.yaml",
         "dir", "link"]
PAX_VALUES = {"mtime": ["inf", "-inf", "nan", "1e400", "-1e30", "1.5", "x"],
              "size": ["99999999999999999999", "-1", "0", "1024", "x"],
              "path": ["../pax-escape", f"{JAIL_MARK}/outside/pax", "ok.yaml"],
              "linkpath": [f"{JAIL_MARK}/outside/victim"],
              "uid": ["-1", "99999999999999999999999"],
              "GNU.sparse.map": ["0,1,2", "x"], "GNU.sparse.size": ["99999999999"],
              "hdrcharset": ["BINARY"]}


@dataclass(frozen=True)
class Member:
    name: str
    type: bytes
    data: bytes
    declared: int | None  # the size in the header when it differs from the data
    link: str
    mode: int
    mtime: int
    pax: tuple[tuple[str, str], ...]


def build(members: list[Member], jail: str, *, end: bool = True, cut: int | None = None,
          fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """The `.tar.gz` of `members`, written header by header so that every field can lie."""
    out = io.BytesIO()
    for m in members:
        info = tarfile.TarInfo(m.name.replace(JAIL_MARK, jail))
        info.type = m.type
        info.size = len(m.data) if m.declared is None else m.declared
        info.linkname = m.link.replace(JAIL_MARK, jail)
        info.mode = m.mode
        info.mtime = m.mtime
        info.pax_headers = {k: v.replace(JAIL_MARK, jail) for k, v in m.pax}
        try:
            out.write(info.tobuf(fmt, "utf-8", "surrogateescape"))
        except (ValueError, OverflowError, UnicodeError):
            out.write(tarfile.TarInfo("unencodable").tobuf(fmt))
        out.write(m.data + bytes(-len(m.data) % 512))
    if end:
        out.write(bytes(1024))
    data = gzip.compress(out.getvalue(), mtime=0)
    return data if cut is None else data[:cut]


member = st.builds(
    Member,
    name=st.one_of(st.sampled_from(NAMES), st.text(max_size=20)),
    type=st.sampled_from(TYPES),
    data=st.one_of(st.just(b""), st.binary(max_size=64), st.just(b"\0" * 4096)),
    declared=st.one_of(st.none(), st.sampled_from([0, 1, 511, 512, MAX_UNTAR + 1, 8**11 - 1, 2**40])),
    link=st.sampled_from(LINKS),
    mode=st.sampled_from([0o644, 0o755, 0o4777, 0o000, 0o7777, 0o1000]),
    mtime=st.sampled_from([0, 1_700_000_000, 2**33, 8**11 - 1, -1]),
    pax=st.lists(st.sampled_from([(k, v) for k, vs in PAX_VALUES.items() for v in vs]), max_size=2).map(tuple),
)
generated = st.builds(
    lambda members, end, cut, fmt: ("build", members, end, cut, fmt),
    st.lists(member, min_size=0, max_size=8),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 400)),
    st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]),
)


def _mutated_tar(seeds: list[bytes]) -> st.SearchStrategy[tuple[str, bytes]]:
    """Corpus artifacts with their *tar* bytes mutated (then compressed again), or their gzip bytes."""
    tars = []
    for seed in seeds:
        try:
            tars.append(gzip.decompress(seed))
        except (OSError, EOFError, zlib.error):
            tars.append(seed)
    return st.one_of(
        mutated(tars, [b"../", b"/", b"\0" * 512, b"ustar\x0000", b"2", b"1", b"3", b"77777777777"]).map(
            lambda tar: ("raw", gzip.compress(tar, mtime=0))),
        mutated(seeds).map(lambda gz: ("raw", gz)),
    )


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int, bytes]]:
    seen: dict[str, tuple[int, int, bytes]] = {}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in dirs + files:
            path = here / name
            st_ = path.lstat()
            content = path.read_bytes() if stat.S_ISREG(st_.st_mode) else b""
            seen[str(path.relative_to(root))] = (stat.S_IFMT(st_.st_mode), st_.st_size, content)
    return seen


def check(case: tuple) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        jail = Path(tmp)
        (jail / "outside").mkdir()
        (jail / "outside" / "victim").write_bytes(CANARY)
        (jail / "work").mkdir()
        dest = jail / "work" / "dest"
        data = case[1] if case[0] == "raw" else build(case[1], str(jail), end=case[2], cut=case[3], fmt=case[4])
        before = _snapshot(jail, dest)
        try:
            extract_archive(io.BytesIO(data), dest, url="https://user:s3cr3t-pw-9q@source/artifact.tar.gz?token=x",
                            max_untar_size=MAX_UNTAR, max_entries=MAX_ENTRIES)
            extracted = True
        except ArtifactError as err:
            assert "s3cr3t-pw-9q" not in str(err), f"the error leaks the URL's password: {err}"
            assert "token=" not in str(err), f"the error leaks the URL's query: {err}"
            extracted, outcome = False, f"{type(err).__name__}: {str(err).split(': ', 1)[-1]}"
        finally:
            for directory, dirs, _ in os.walk(jail):  # extracted directories may lack write/exec bits
                for name in dirs:
                    os.chmod(Path(directory) / name, 0o700)
        after = _snapshot(jail, dest)
        assert after == before, f"outside the destination: {sorted(set(after.items()) ^ set(before.items()))}"
        assert not os.path.lexists(FIXED_OUTSIDE), f"{FIXED_OUTSIDE} was written"
        leftovers = sorted(p.name for p in (jail / "work").iterdir() if p.name != "dest")
        assert not leftovers, f"staging left behind: {leftovers}"
        if not extracted:
            assert not dest.exists(), "a failed extraction left the destination behind"
            return outcome
        count = 0
        for directory, dirs, files in os.walk(dest):
            for name in dirs + files:
                path = Path(directory) / name
                mode = path.lstat().st_mode
                assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), f"{path} is neither a file nor a directory"
                assert dest.resolve() in path.resolve().parents
                count += 1
        return f"extracted {min(count, 3)}+ entries"


def test_tarball() -> None:
    seeds = corpus_bytes(TARGET)
    strategy = st.one_of(st.sampled_from([("raw", s) for s in seeds]), generated, _mutated_tar(seeds))
    fuzz(TARGET, strategy, check, allowed=(), seeds=[("raw", s) for s in seeds], max_examples=150,
         dump=lambda case: (".tar.gz", case[1] if case[0] == "raw" else build(case[1], FIXED_OUTSIDE, end=case[2],
                                                                              cut=case[3], fmt=case[4])))
