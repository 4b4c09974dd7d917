"""Reproducible ``.tar.gz`` artifacts of a directory, with the tar stream Flux's source-controller writes.

An artifact's digest is its identity: consumers compare it, and a rebuild of an unchanged tree must not
look like a new revision. So nothing about the machine, the clock or the checkout may reach the bytes.
The rules are those of ``fluxcd/pkg`` ``artifact/storage.Archive`` (Go ``archive/tar`` + ``compress/gzip``):

* Entries come from a depth-first walk in byte order of names (Go's ``filepath.Walk``), the root itself
  first as a directory named ``.``; names are relative, ``/``-separated, directories without a trailing
  slash.
* Only regular files and directories are archived. Symlinks are neither archived nor followed (a link to
  ``/etc/passwd`` or ``../..`` is simply absent), and neither are devices, FIFOs or sockets. Files are
  opened relative to their already-opened directory with ``O_NOFOLLOW`` and checked to be the very file
  that was listed, so swapping a file or directory for a symlink during the walk cannot pull outside
  content in either.
* Headers: uid/gid 0, empty user and group names, mtime 0 (the Unix epoch), mode 0o750 for directories,
  0o700 for files with any executable bit, 0o600 for other files. USTAR format, the long-name prefix
  field when a long ASCII name can be split, a PAX ``path`` record (header named
  ``<dir>/PaxHeaders.0/<file>``) for non-ASCII or unsplittable names and a PAX ``size`` record above
  8 GiB, exactly as Go's ``tar.Writer`` picks them; the archive ends with two zero blocks and is not
  padded to a 10 KiB record (unlike Python's ``tarfile``, which is why headers are written here).
* gzip with no file name, mtime 0, no extra flags and OS byte 255, as Go's ``gzip.Writer`` writes them.

The uncompressed tar stream is byte-identical to Flux's. The deflate stream is zlib's, not Go's, so the
``.tar.gz`` digest of a tree differs from the one Flux would compute for it; it is stable for a given
zlib, which is what reproducibility needs (every consumer verifies the digest we publish).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Final, Protocol, cast

__all__ = [
    "BLOCK_SIZE",
    "DIR_MODE",
    "EXEC_FILE_MODE",
    "FILE_MODE",
    "ArchiveError",
    "ArchiveInfo",
    "Entry",
    "Exclude",
    "Writable",
    "iter_entries",
    "tar_header",
    "write_archive",
    "write_tar",
]

DIR_MODE: Final = 0o750
FILE_MODE: Final = 0o600
EXEC_FILE_MODE: Final = 0o700
BLOCK_SIZE: Final = 512
GZIP_LEVEL: Final = 6  # Go's gzip.DefaultCompression; also what makes the header's XFL byte 0

_NAME_SIZE: Final = 100
_PREFIX_SIZE: Final = 155
_MAX_OCTAL_SIZE: Final = 8**11 - 1  # what fits the 12-byte size field
_CHUNK: Final = 1 << 20

Exclude = Callable[[Sequence[str], bool], bool]
"""``exclude(path_components, is_dir) -> bool``; e.g. :class:`headwater.artifact.ignore.Matcher`."""


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class ArchiveError(Exception):
    """The directory could not be archived (missing, unreadable, or changing while being read)."""


@dataclass(frozen=True)
class ArchiveInfo:
    digest: str
    """``sha256:<hex>`` of the compressed bytes."""
    size: int
    """Number of compressed bytes."""


@dataclass(frozen=True)
class Entry:
    """One archived path, as the walk yields it."""

    name: str
    """Archive name (``.`` for the root), ``/``-separated, ``str`` as :func:`os.fsdecode` gives it."""
    is_dir: bool
    mode: int
    size: int


# -- tar headers (Go archive/tar compatible) --------------------------------------------------------------

def _octal(value: int, width: int) -> bytes:
    """Go's formatOctal: zero-padded octal leaving room for a NUL terminator (callers ensure it fits)."""
    digits = format(value, "o").encode()
    if len(digits) >= width:
        raise ValueError(f"{value} does not fit a {width}-byte octal field")
    return digits.rjust(width - 1, b"0") + b"\0"


def _field(value: bytes, width: int) -> bytes:
    """Go's formatString: copy, NUL-terminate if there is room, zero-fill; a truncated value that would end
    in a slash gets a NUL after its last non-slash byte instead (the rest stays as copied)."""
    if len(value) <= width:
        return value.ljust(width, b"\0")
    value = value[:width]
    if value.endswith(b"/"):
        n = len(value[: width - 1].rstrip(b"/"))
        value = value[:n] + b"\0" + value[n + 1 :]
    return value


def _ascii(value: bytes) -> bytes:
    """Go's toASCII: drop every non-ASCII (and invalid UTF-8) character."""
    if all(0 < b < 0x80 for b in value):
        return value
    text = value.decode("utf-8", "replace")
    return bytes(ord(c) for c in text if 0 < ord(c) < 0x80)


def _is_ascii(value: bytes) -> bool:
    return all(0 < b < 0x80 for b in value)


def _split_ustar(name: bytes) -> tuple[bytes, bytes] | None:
    """Go's splitUSTARPath: (prefix, name) when a long ASCII name can be split at a slash."""
    length = len(name)
    if length <= _NAME_SIZE or not _is_ascii(name):
        return None
    if length > _PREFIX_SIZE + 1:
        length = _PREFIX_SIZE + 1
    elif name[length - 1 : length] == b"/":
        length -= 1
    i = name.rfind(b"/", 0, length)
    suffix_len = len(name) - i - 1
    if i <= 0 or suffix_len > _NAME_SIZE or suffix_len == 0 or i > _PREFIX_SIZE:
        return None
    return name[:i], name[i + 1 :]


def _block(*, name: bytes, mode: int, size: int, typeflag: bytes, prefix: bytes = b"",
           owner_fields: bool = True) -> bytes:
    """A 512-byte header with USTAR magic. ``owner_fields`` False leaves uname/gname/devmajor/devminor
    all-zero, as Go does for the PAX extended header itself."""
    tail = (_field(b"", 32) + _field(b"", 32) + _octal(0, 8) + _octal(0, 8)) if owner_fields else bytes(80)
    header = b"".join((
        _field(name, 100),
        _octal(mode, 8),
        _octal(0, 8),  # uid
        _octal(0, 8),  # gid
        _octal(size if size <= _MAX_OCTAL_SIZE else 0, 12),
        _octal(0, 12),  # mtime: the epoch
        b" " * 8,  # checksum placeholder
        typeflag,
        bytes(100),  # linkname
        b"ustar\x00", b"00",
        tail,
        _field(prefix, _PREFIX_SIZE),
        bytes(12),
    ))  # fmt: skip
    checksum = sum(header)
    return header[:148] + _octal(checksum, 7) + b" " + header[156:]


def _pax_record(key: str, value: bytes) -> bytes:
    body = key.encode() + b"=" + value + b"\n"
    size = len(body) + 1  # the space
    size += len(str(size))
    record = str(size).encode() + b" " + body
    if len(record) != size:  # the length's own digits pushed it over a power of ten
        record = str(len(record)).encode() + b" " + body
    return record


def _pad(length: int) -> bytes:
    return bytes(-length % BLOCK_SIZE)


def tar_header(name: bytes, *, is_dir: bool, mode: int, size: int) -> bytes:
    """The header block(s) Go's ``tar.Writer`` writes for a sanitised entry (PAX header included)."""
    typeflag = b"5" if is_dir else b"0"
    pax: dict[str, bytes] = {}
    prefix = b""
    short = name
    if not _is_ascii(name) or len(name) > _NAME_SIZE:
        split = _split_ustar(name)
        if split is None:
            pax["path"] = name
        else:
            prefix, short = split
    if size > _MAX_OCTAL_SIZE:
        pax["size"] = str(size).encode()
    if not pax:
        return _block(name=short, mode=mode, size=size, typeflag=typeflag, prefix=prefix)
    # PAX: an extended header, then the main header with an ASCII-only, truncated name and no prefix.
    data = b"".join(_pax_record(key, pax[key]) for key in sorted(pax))
    directory, file = posixpath.split(name)
    pax_name = _ascii(posixpath.join(directory, b"PaxHeaders.0", file))[:_NAME_SIZE].rstrip(b"/")
    extended = _block(name=pax_name, mode=0, size=len(data), typeflag=b"x", owner_fields=False)
    main = _block(name=_ascii(name), mode=mode, size=size, typeflag=typeflag)
    return extended + data + _pad(len(data)) + main


# -- walking ----------------------------------------------------------------------------------------------

def _normalised_mode(st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        return DIR_MODE
    return EXEC_FILE_MODE if st.st_mode & 0o111 else FILE_MODE


@dataclass(frozen=True)
class _Node:
    entry: Entry
    parts: tuple[str, ...]
    st: os.stat_result
    dir_fd: int
    """The open parent directory (for the root: the root itself)."""


_OPEN_DIR: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _open_no_follow(name: str, flags: int, dir_fd: int, listed: os.stat_result) -> int:
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as err:
        raise ArchiveError(f"cannot open {name!r}: {err.strerror} (did it change while archiving?)") from err
    if not _same_file(os.fstat(fd), listed):
        os.close(fd)
        raise ArchiveError(f"{name!r} changed while archiving")
    return fd


def _walk(root: str | os.PathLike[str], exclude: Exclude | None) -> Iterator[_Node]:
    """Yield the nodes to archive, in Go's filepath.Walk order, with their parent directory open."""
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise ArchiveError(f"invalid dir path: {os.fspath(root)!r}: {err.strerror}") from err
    # Descending into an excluded directory is only needed if a pattern could re-include something.
    prune = exclude is not None and not getattr(exclude, "has_inclusions", True)
    try:
        root_st = os.fstat(root_fd)
        yield _Node(Entry(".", True, DIR_MODE, 0), (), root_st, root_fd)
        yield from _walk_dir(root_fd, (), exclude, prune)
    finally:
        os.close(root_fd)


def _walk_dir(dir_fd: int, parts: tuple[str, ...], exclude: Exclude | None, prune: bool) -> Iterator[_Node]:
    with os.scandir(dir_fd) as it:
        names = sorted((e.name for e in it), key=os.fsencode)
    for name in names:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as err:
            raise ArchiveError(f"cannot stat {'/'.join((*parts, name))!r}: {err.strerror}") from err
        child = (*parts, name)
        is_dir = stat.S_ISDIR(st.st_mode)
        if not (is_dir or stat.S_ISREG(st.st_mode)):
            continue  # symlinks, devices, FIFOs, sockets: never archived, never followed
        excluded = exclude is not None and exclude(child, is_dir)
        if not excluded:
            size = 0 if is_dir else st.st_size
            yield _Node(Entry("/".join(child), is_dir, _normalised_mode(st), size), child, st, dir_fd)
        if is_dir and not (excluded and prune):
            sub_fd = _open_no_follow(name, _OPEN_DIR, dir_fd, st)
            try:
                yield from _walk_dir(sub_fd, child, exclude, prune)
            finally:
                os.close(sub_fd)


def iter_entries(root: str | os.PathLike[str], exclude: Exclude | None = None) -> Iterator[Entry]:
    """The entries :func:`write_tar` would write, in order (without reading file contents)."""
    for node in _walk(root, exclude):
        yield node.entry


# -- writing ----------------------------------------------------------------------------------------------

def _copy_file(node: _Node, out: Writable) -> None:
    name = node.parts[-1]
    fd = _open_no_follow(name, _OPEN_FILE, node.dir_fd, node.st)
    try:
        remaining = node.entry.size
        while remaining:
            chunk = os.read(fd, min(_CHUNK, remaining))
            if not chunk:
                raise ArchiveError(f"{node.entry.name!r} shrank while archiving")
            out.write(chunk)
            remaining -= len(chunk)
        if os.read(fd, 1):
            raise ArchiveError(f"{node.entry.name!r} grew while archiving")
    finally:
        os.close(fd)
    out.write(_pad(node.entry.size))


def write_tar(root: str | os.PathLike[str], out: Writable, exclude: Exclude | None = None) -> None:
    """Write the uncompressed, normalised tar stream of ``root`` to ``out``."""
    for node in _walk(root, exclude):
        entry = node.entry
        out.write(tar_header(os.fsencode(entry.name), is_dir=entry.is_dir, mode=entry.mode, size=entry.size))
        if not entry.is_dir:
            _copy_file(node, out)
    out.write(bytes(2 * BLOCK_SIZE))


class _DigestWriter:
    """Forwards writes to ``out`` while hashing and counting them."""

    def __init__(self, out: Writable) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def write_archive(root: str | os.PathLike[str], out: Writable, exclude: Exclude | None = None) -> ArchiveInfo:
    """Write the reproducible ``.tar.gz`` of ``root`` to ``out``; return its digest and size."""
    sink = _DigestWriter(out)
    with gzip.GzipFile(filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=cast(IO[bytes], sink), mtime=0) as gz:
        write_tar(root, gz, exclude)
    return ArchiveInfo(digest=f"sha256:{sink.hash.hexdigest()}", size=sink.size)
