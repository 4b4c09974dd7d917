"""Unit tests for headwater.artifact.archive: reproducible, Flux-identical tarballs that never leak outside content."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from headwater.artifact.archive import (
    DIR_MODE,
    EXEC_FILE_MODE,
    FILE_MODE,
    ArchiveError,
    iter_entries,
    tar_header,
    write_archive,
    write_tar,
)
from headwater.artifact.ignore import tree_matcher

pytestmark = pytest.mark.unit

Tree = Callable[[dict[str, str | bytes]], Path]

FILES: dict[str, str | bytes] = {
    "kustomization.yaml": "resources: [app]\n",
    "app/deployment.yaml": "kind: Deployment\n",
    "app/service.yaml": "kind: Service\n",
    "app.txt": "sorts after app/ in a walk, before it by full path\n",
    "app-b/x": "x",
    "scripts/run.sh": "#!/bin/sh\necho hi\n",
    "empty/": "",
    "data.bin": bytes(range(256)) * 9,
}


def _tgz(root: Path, exclude: Callable[[Sequence[str], bool], bool] | None = None) -> bytes:
    out = io.BytesIO()
    write_archive(root, out, exclude)
    return out.getvalue()


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getmembers()


def test_same_tree_same_bytes_regardless_of_checkout(tree: Tree, tmp_path: Path) -> None:
    first = tree(FILES)
    os.chmod(first / "scripts/run.sh", 0o755)
    time.sleep(0.05)
    # A second checkout: other creation order, other times, other umask-ish modes, other owner bits.
    old = os.umask(0o077)
    try:
        second = tree(dict(reversed(list(FILES.items()))))
    finally:
        os.umask(old)
    os.chmod(second / "scripts/run.sh", 0o711)
    os.chmod(second / "app/service.yaml", 0o664)
    os.chmod(second / "empty", 0o775)
    for path in second.rglob("*"):
        os.utime(path, (1_000_000, 1_700_000_000))
    assert _tgz(first) == _tgz(second)


def test_content_change_changes_digest(tree: Tree) -> None:
    root = tree(FILES)
    before = write_archive(root, io.BytesIO())
    (root / "app/service.yaml").write_text("kind: Service # changed\n")
    after = write_archive(root, io.BytesIO())
    assert before.digest != after.digest
    os.chmod(root / "app/service.yaml", 0o755)
    assert write_archive(root, io.BytesIO()).digest != after.digest  # the executable bit is content


def test_digest_and_size_describe_the_written_bytes(tree: Tree) -> None:
    import hashlib

    out = io.BytesIO()
    info = write_archive(tree(FILES), out)
    assert info.size == len(out.getvalue())
    assert info.digest == "sha256:" + hashlib.sha256(out.getvalue()).hexdigest()


def test_gzip_header_has_no_name_no_mtime_and_os_unknown(tree: Tree) -> None:
    data = _tgz(tree(FILES))
    # ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255: what Go's gzip.Writer writes at default level.
    assert data[:10] == bytes.fromhex("1f8b08000000000000ff")


def test_entries_order_modes_and_owners(tree: Tree) -> None:
    root = tree(FILES)
    os.chmod(root / "scripts/run.sh", 0o750)
    members = _members(_tgz(root))
    assert [m.name for m in members] == [
        ".", "app", "app/deployment.yaml", "app/service.yaml", "app-b", "app-b/x", "app.txt", "data.bin",
        "empty", "kustomization.yaml", "scripts", "scripts/run.sh",
    ]  # fmt: skip
    modes = {m.name: m.mode for m in members}
    assert modes["."] == modes["app"] == modes["empty"] == DIR_MODE == 0o750
    assert modes["scripts/run.sh"] == EXEC_FILE_MODE == 0o700
    assert modes["app/service.yaml"] == FILE_MODE == 0o600
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0)
        assert m.isdir() or m.isreg()
    assert {m.name: m.size for m in members}["data.bin"] == 256 * 9


def test_real_tar_lists_expected_entries(tree: Tree, tmp_path: Path) -> None:
    root = tree({"a/b.yaml": "b\n", "run": "#!/bin/sh\n"})
    os.chmod(root / "run", 0o755)
    archive = tmp_path / "out.tar.gz"
    archive.write_bytes(_tgz(root))
    listing = subprocess.run(
        ["tar", "-tzvf", str(archive), "--numeric-owner"], capture_output=True, text=True, check=True,
        env={**os.environ, "TZ": "UTC", "LC_ALL": "C"},
    ).stdout.splitlines()
    rows = [line.split() for line in listing]
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("drwxr-x---", "0/0", "0", "1970-01-01", "00:00", "."),
        ("drwxr-x---", "0/0", "0", "1970-01-01", "00:00", "a"),
        ("-rw-------", "0/0", "2", "1970-01-01", "00:00", "a/b.yaml"),
        ("-rwx------", "0/0", "10", "1970-01-01", "00:00", "run"),
    ]
    extracted = tmp_path / "x"
    extracted.mkdir()
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(extracted)], check=True)
    assert (extracted / "a/b.yaml").read_text() == "b\n"


def test_raw_header_fields(tree: Tree) -> None:
    raw = io.BytesIO()
    write_tar(tree({"f": "hello"}), raw)
    data = raw.getvalue()
    root, file_header = data[:512], data[512:1024]
    assert root[:2] == b".\0"
    assert root[100:108] == b"0000750\0"
    assert root[108:116] == root[116:124] == b"0000000\0"
    assert root[124:136] == root[136:148] == b"00000000000\0"
    assert root[156:157] == b"5"
    assert root[257:265] == b"ustar\x0000"
    assert root[265:329] == bytes(64)  # empty user and group names
    assert root[329:345] == b"0000000\x000000000\0"
    assert file_header[100:108] == b"0000600\0"
    assert file_header[124:136] == b"00000000005\0"
    assert data[1024:1029] == b"hello"
    assert data[1029:1536] == bytes(507)
    assert data[1536:] == bytes(1024)  # two zero blocks, no padding to a 10 KiB record
    assert len(data) % 512 == 0
    checksum = sum(file_header[:148]) + 8 * 32 + sum(file_header[156:])
    assert file_header[148:156] == f"{checksum:06o}".encode() + b"\0 "


def test_long_and_non_ascii_names_round_trip(tree: Tree) -> None:
    long_dir = "d" * 80 + "/" + "e" * 60
    names: dict[str, str | bytes] = {
        f"{long_dir}/f.yaml": "split into prefix and name",
        "g" * 120: "cannot be split: PAX",
        "ünïcödé/fïle.yaml": "PAX path",
        "h" * 100: "exactly 100 bytes",
    }
    root = tree(names)
    members = {m.name: m for m in _members(_tgz(root))}
    for name in names:
        assert name in members
    raw = io.BytesIO()
    write_tar(root, raw)
    assert b"PaxHeaders.0/" in raw.getvalue()


def test_pax_header_layout() -> None:
    header = tar_header("ü/x".encode(), is_dir=False, mode=0o600, size=3)
    assert len(header) == 512 * 3  # extended header, its record block, the main header
    extended, record, main = header[:512], header[512:1024], header[1024:]
    assert extended[:16] == b"/PaxHeaders.0/x\0"  # path.Join("ü/", "PaxHeaders.0", "x"), ASCII only
    assert extended[156:157] == b"x"
    assert record.rstrip(b"\0") == "13 path=ü/x\n".encode()
    assert extended[124:136] == b"00000000015\0"  # 13 bytes, in octal
    assert main[:3] == b"/x\0"  # non-ASCII dropped from the v7 name
    assert main[156:157] == b"0"


def test_pax_record_length_accounts_for_its_own_digits() -> None:
    # 'NN path=...\n' where adding the length's digits pushes it to the next power of ten
    name = ("é" + "a" * 91).encode()
    header = tar_header(name, is_dir=False, mode=0o600, size=0)
    record = header[512:1024].rstrip(b"\0")
    length, _, rest = record.partition(b" ")
    assert int(length) == len(record)
    assert rest == b"path=" + name + b"\n"


def test_truncated_pax_v7_name_does_not_end_in_slash() -> None:
    name = ("é" + "i" * 99 + "/k").encode()  # ASCII form is 101 bytes, truncated to 100 ending in '/'
    main = tar_header(name, is_dir=False, mode=0o600, size=0)[1024:]
    assert main[:100] == b"i" * 99 + b"\0"


def test_huge_size_uses_pax_size_record() -> None:
    header = tar_header(b"big", is_dir=False, mode=0o600, size=8**11)
    assert b"size=8589934592\n" in header[512:1024]
    assert header[1024 + 124 : 1024 + 136] == b"00000000000\0"


# -- what is left out -------------------------------------------------------------------------------------

def test_symlinks_are_not_archived_or_followed(tree: Tree, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("TOP-SECRET")
    root = tree({"ok.yaml": "fine"})
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink("../..", root / "up")
    os.symlink(outside, root / "linked-dir")
    os.symlink(outside / "secret", root / "linked-file")
    os.symlink("ok.yaml", root / "inside-link")
    os.mkfifo(root / "fifo")
    data = _tgz(root)
    assert [m.name for m in _members(data)] == [".", "ok.yaml"]
    plain = gzip.decompress(data)
    assert b"TOP-SECRET" not in plain
    assert b"root:" not in plain


def test_file_swapped_for_symlink_during_walk_is_refused(tree: Tree, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("TOP-SECRET")
    root = tree({"a.yaml": "a", "b.yaml": "b" * 10})

    def swap(path: Sequence[str], is_dir: bool) -> bool:
        if tuple(path) == ("b.yaml",):
            (root / "b.yaml").unlink()
            os.symlink(secret, root / "b.yaml")
        return False

    with pytest.raises(ArchiveError, match=r"b\.yaml"):
        write_archive(root, io.BytesIO(), swap)


def test_directory_swapped_for_symlink_during_walk_is_refused(tree: Tree, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("TOP-SECRET")
    root = tree({"dir/x.yaml": "x"})

    def swap(path: Sequence[str], is_dir: bool) -> bool:
        if tuple(path) == ("dir",):
            shutil.rmtree(root / "dir")
            os.symlink(outside, root / "dir")
        return False

    out = io.BytesIO()
    with pytest.raises(ArchiveError):
        write_archive(root, out, swap)


def test_exclusions_apply(tree: Tree) -> None:
    root = tree({
        ".git/HEAD": "ref", ".gitignore": "x", ".github/workflows/ci.yaml": "ci", "logo.png": "png",
        "deploy/app.yaml": "app", "deploy/README.md": "doc", "src/main.go": "code",
    })  # fmt: skip
    assert [e.name for e in iter_entries(root, tree_matcher(root))] == [
        ".", "deploy", "deploy/README.md", "deploy/app.yaml", "src", "src/main.go",
    ]
    matcher = tree_matcher(root, "/*\n!/deploy\n/deploy/**/*.md\n")
    assert [e.name for e in iter_entries(root, matcher)] == [".", "deploy", "deploy/app.yaml"]


def test_reinclusion_inside_excluded_directory(tree: Tree) -> None:
    root = tree({"dir/keep.yaml": "k", "dir/drop.yaml": "d", ".sourceignore": "dir/\n!dir/keep.yaml\n"})
    # As in Flux: the excluded directory has no entry of its own, the re-included file does.
    assert [e.name for e in iter_entries(root, tree_matcher(root))] == [".", ".sourceignore", "dir/keep.yaml"]


def test_pruning_excluded_directories_changes_nothing(tree: Tree) -> None:
    root = tree({f"{d}/{f}": "x" for d in ("a", "b", ".git", "c/d") for f in ("1.yaml", "2.md")})
    matcher = tree_matcher(root, "b/\n*.md\n")
    assert not matcher.has_inclusions
    unpruned = [e.name for e in iter_entries(root, lambda p, d: matcher.excludes(p, d))]
    assert [e.name for e in iter_entries(root, matcher)] == unpruned


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="invalid dir path"):
        write_archive(tmp_path / "nope", io.BytesIO())


# -- byte-for-byte against Go's archive/tar, when a Go toolchain is available -----------------------------

_GO_PROGRAM = r'''
package main

import (
	"archive/tar"
	"bufio"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Archive a directory the way fluxcd/pkg artifact/storage.Archive does (minus gzip), skipping the
// relative paths given on stdin.
func main() {
	dir := os.Args[1]
	skip := map[string]bool{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		skip[sc.Text()] = true
	}
	tw := tar.NewWriter(os.Stdout)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if m := fi.Mode(); !(m.IsRegular() || m.IsDir()) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if skip[rel] {
			return nil
		}
		h, err := tar.FileInfoHeader(fi, p)
		if err != nil {
			return err
		}
		h.Name = rel
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.ModTime, h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}, time.Time{}
		switch {
		case fi.IsDir():
			h.Mode = 0o750
		case fi.Mode()&0o111 != 0:
			h.Mode = 0o700
		default:
			h.Mode = 0o600
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		panic(err)
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
}
'''


@pytest.fixture(scope="module")
def go_archiver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.skip("no Go toolchain")
    src = tmp_path_factory.mktemp("goarchiver")
    (src / "go.mod").write_text("module goarchiver\n\ngo 1.22\n")
    (src / "main.go").write_text(_GO_PROGRAM)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    subprocess.run([go, "build", "-o", str(src / "archiver"), "."], cwd=src, env=env, check=True,
                   capture_output=True, timeout=300)
    return src / "archiver"


@pytest.mark.slow
def test_tar_stream_is_byte_identical_to_go(go_archiver: Path, tree: Tree) -> None:
    files: dict[str, str | bytes] = {
        **FILES,
        ".git/HEAD": "ref: refs/heads/main\n",
        "logo.png": "png",
        ("d" * 60) + "/" + ("e" * 60) + "/" + ("f" * 99): "splittable long name",
        ("d" * 60) + "/" + ("g" * 101): "unsplittable long name",
        "h" * 100: "exactly 100",
        "é" + "i" * 99 + "/k": "PAX with a truncated v7 name",
        "ünï/fïle.yaml": "PAX path",
        "zeros": bytes(5000),
    }
    root = tree(files)
    os.chmod(root / "scripts/run.sh", 0o755)
    os.chmod(root / "zeros", 0o604)
    os.symlink("/etc/passwd", root / "passwd")
    os.mkfifo(root / "fifo")
    matcher = tree_matcher(root)
    kept = {e.name for e in iter_entries(root, lambda p, d: False)}
    excluded = sorted(kept - {e.name for e in iter_entries(root, matcher)})
    go_tar = subprocess.run([str(go_archiver), str(root)], input="\n".join(excluded).encode(),
                            capture_output=True, check=True).stdout
    ours = io.BytesIO()
    write_tar(root, ours, matcher)
    assert ours.getvalue() == go_tar
