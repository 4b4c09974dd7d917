"""Download, verify and unpack a source artifact: what kustomize- and helm-controller do with ``artifact.url``.

An artifact is input from another process and may be stale, truncated, tampered with or hostile, so
the consumer trusts nothing but the digest it read from the source's status (``fluxcd/pkg``
``http/fetch`` + ``tar.Untar``, made stricter):

1. Download with a few retries on transient failures (connection errors, timeouts, 429, 5xx); 404 is
   final (:class:`ArtifactNotFound`, the source has moved on: re-read its status). At most ``max_size``
   bytes are accepted, whatever ``Content-Length`` claims.
2. Hash while the bytes arrive; a digest other than the expected one is :class:`DigestMismatch`, and
   nothing is extracted. A digest without an algorithm means sha256 (as in Flux).
3. Extract into a fresh temporary directory beside ``dest_dir``, then rename it into place, so
   ``dest_dir`` appears complete or not at all. The rules, the strictest that Flux-made artifacts pass:

   * only regular files and directories; symlinks, hard links, devices, FIFOs and sparse files are
     refused (:class:`UnsafeArchive`). Flux drops symlinks silently and writes hard links as empty
     files; refusing both means a link can never point anywhere, inside or out, and no Flux or headwater
     artifact contains one (both archivers skip them);
   * names must be relative and stay inside: no leading ``/``, no ``..`` component, no backslash or NUL;
     ``.`` and ``./`` prefixes are fine (Flux archives start with a ``.`` entry);
   * the sum of file sizes is capped by ``max_untar_size`` (Flux's default: 100 MiB), the number of
     entries by ``max_entries``, and the decompressed stream by both, so a gzip bomb or a huge PAX
     header is stopped early (:class:`ArtifactTooLarge`);
   * file modes keep their permission bits (setuid/setgid/sticky dropped, owner read/write added),
     directories get owner rwx; modification times come from the headers, clamped between the epoch and now.

Errors name the URL with any user-info and query string removed, never credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import math
import os
import re
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Final, Protocol, cast
from urllib.parse import urlsplit, urlunsplit

import aiohttp

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_SIZE",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_UNTAR_SIZE",
    "DEFAULT_RETRIES",
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactTooLarge",
    "DigestMismatch",
    "DownloadFailed",
    "LimitedReader",
    "UnsafeArchive",
    "extract_archive",
    "fetch_artifact",
    "parse_digest",
    "redact_url",
]

MiB: Final = 1 << 20
DEFAULT_MAX_DOWNLOAD_SIZE: Final = 100 * MiB
DEFAULT_MAX_UNTAR_SIZE: Final = 100 * MiB
"""Flux's ``tar.DefaultMaxUntarSize``."""
DEFAULT_MAX_ENTRIES: Final = 50_000
DEFAULT_RETRIES: Final = 3
DEFAULT_BACKOFF: Final = 0.5
DEFAULT_TIMEOUT: Final = 300.0
_CHUNK: Final = 256 * 1024
_ENTRY_OVERHEAD: Final = 1024  # header + worst-case padding per entry, for the decompressed-stream cap
_RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
_DIGEST_RE: Final = re.compile(r"^(sha256|sha384|sha512):([a-f0-9]+)$")
_HEX_LENGTHS: Final = {"sha256": 64, "sha384": 96, "sha512": 128}


# -- errors -----------------------------------------------------------------------------------------------

class ArtifactError(Exception):
    """Fetching an artifact failed; ``url`` is the redacted URL."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class DownloadFailed(ArtifactError):
    """The artifact could not be downloaded (after retries, where retrying made sense)."""

    def __init__(self, message: str, url: str = "", status: int | None = None) -> None:
        super().__init__(message, url)
        self.status = status


class ArtifactNotFound(DownloadFailed):
    """The server answered 404: the artifact was garbage-collected or never existed."""


class DigestMismatch(ArtifactError):
    """The downloaded bytes do not have the expected digest."""

    def __init__(self, url: str, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch for {url}: expected {expected}, got {actual}", url)
        self.expected = expected
        self.actual = actual


class UnsafeArchive(ArtifactError):
    """The archive is malformed or contains something that will not be extracted."""

    def __init__(self, message: str, url: str = "", member: str | None = None) -> None:
        super().__init__(message, url)
        self.member = member


class ArtifactTooLarge(UnsafeArchive):
    """The download or its extracted content exceeds the configured limit."""

    def __init__(self, message: str, url: str = "", limit: int = 0) -> None:
        super().__init__(message, url)
        self.limit = limit


# -- helpers ----------------------------------------------------------------------------------------------

def redact_url(url: str) -> str:
    """``url`` without user-info, query or fragment, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_digest(digest: str) -> tuple[str, str]:
    """``(algorithm, hex)`` of ``<algo>:<hex>`` (``<hex>`` alone means sha256); ValueError otherwise."""
    if ":" not in digest:
        digest = f"sha256:{digest}"
    match = _DIGEST_RE.match(digest)
    if match is None or len(match.group(2)) != _HEX_LENGTHS[match.group(1)]:
        raise ValueError(f"invalid or unsupported digest {digest!r}")
    return match.group(1), match.group(2)


def _replace_host(url: str, host: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class LimitedReader:
    """A reader that fails (:class:`ArtifactTooLarge`) once more than ``limit`` bytes were read through it:
    what stops a gzip bomb while a tar stream is read from it."""

    def __init__(self, raw: _Readable, limit: int | None, url: str) -> None:
        self.raw = raw
        self.limit = limit
        self.url = url
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise ArtifactTooLarge(
                f"archive from {self.url} decompresses to more than {self.limit} bytes", self.url, self.limit)
        return data


# -- extraction -------------------------------------------------------------------------------------------

def _member_parts(name: str, url: str) -> tuple[str, ...]:
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        raise UnsafeArchive(f"archive from {url} contains an invalid name {name!r}", url, name)
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchive(f"archive from {url} contains a path leaving the destination: {name!r}", url, name)
    return parts


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symlink (to {member.linkname!r})"
    if member.islnk():
        return f"a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    if member.issparse():
        return "a sparse file"
    return f"an unsupported entry (type {member.type!r})"


def _extract_members(archive: IO[bytes], root: Path, *, url: str, max_untar_size: int | None,
                     max_entries: int) -> None:
    stream_limit = None if max_untar_size is None else max_untar_size + _ENTRY_OVERHEAD * (max_entries + 1)
    now = time.time()
    total = 0
    entries = 0
    dir_modes: list[tuple[Path, int]] = []
    try:
        with gzip.GzipFile(fileobj=archive, mode="rb") as gz:
            limited = LimitedReader(gz, stream_limit, url)
            with tarfile.open(fileobj=cast(IO[bytes], limited), mode="r|") as tar:
                for member in tar:
                    entries += 1
                    if entries > max_entries:
                        raise ArtifactTooLarge(
                            f"archive from {url} has more than {max_entries} entries", url, max_entries)
                    parts = _member_parts(member.name, url)
                    target = root.joinpath(*parts)
                    if member.isdir():
                        if parts:
                            target.mkdir(mode=0o700, parents=True, exist_ok=True)
                            dir_modes.append((target, (member.mode & 0o777) | 0o700))
                        continue
                    if not member.isreg() or member.issparse():
                        raise UnsafeArchive(
                            f"archive from {url} contains {_kind(member)} at {member.name!r}", url, member.name)
                    if not parts:
                        raise UnsafeArchive(f"archive from {url} contains a file named {member.name!r}",
                                            url, member.name)
                    total += member.size
                    if max_untar_size is not None and total > max_untar_size:
                        raise ArtifactTooLarge(
                            f"archive from {url} is bigger than the max untar size of {max_untar_size} bytes",
                            url, max_untar_size)
                    _write_member(tar, member, target, now)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, ValueError) as err:
        if isinstance(err, ArtifactError):
            raise
        raise UnsafeArchive(f"cannot extract archive from {url}: {_without_local_paths(err, root)}", url) from err
    for directory, mode in reversed(dir_modes):
        os.chmod(directory, mode)


def _without_local_paths(err: BaseException, root: Path) -> str:
    """An OS error as the archive's names, not this machine's scratch paths (`x: File exists`)."""
    if isinstance(err, OSError) and err.filename is not None:
        name = os.fsdecode(err.filename)
        with contextlib.suppress(ValueError):
            name = Path(name).relative_to(root).as_posix()
        return f"{name}: {err.strerror or type(err).__name__}"
    return str(err)


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, now: float) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = (member.mode & 0o777) | 0o600
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as out:
        source = tar.extractfile(member)
        if source is None:  # pragma: no cover - only for non-regular members, refused earlier
            raise tarfile.ExtractError(member.name)
        shutil.copyfileobj(source, out, _CHUNK)
    os.chmod(target, mode)
    os.utime(target, (_mtime(member, now),) * 2)


def _mtime(member: tarfile.TarInfo, now: float) -> float:
    """The header's modification time within [epoch, now]: a PAX ``mtime`` may be ``inf``, ``nan`` or
    ``-1e30``, which ``os.utime`` refuses with OverflowError or ValueError."""
    mtime = float(member.mtime)
    return min(mtime, now) if math.isfinite(mtime) and mtime >= 0 else (now if mtime == math.inf else 0.0)


def extract_archive(
    archive: str | os.PathLike[str] | IO[bytes],
    dest_dir: str | os.PathLike[str],
    *,
    url: str = "",
    max_untar_size: int | None = DEFAULT_MAX_UNTAR_SIZE,
    max_entries: int = DEFAULT_MAX_ENTRIES,
) -> Path:
    """Safely unpack a ``.tar.gz`` into ``dest_dir`` (absent or empty), atomically; return ``dest_dir``.

    ``max_untar_size`` None means unlimited. ``url`` only labels error messages.
    """
    dest = Path(dest_dir).absolute()
    if url:
        label = redact_url(url)
    elif isinstance(archive, str | os.PathLike):
        label = os.fspath(archive)
    else:
        label = "<stream>"
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract-", dir=dest.parent))
    try:
        root = staging / "root"
        root.mkdir(mode=0o700)
        if isinstance(archive, str | os.PathLike):
            with open(archive, "rb") as f:
                _extract_members(f, root, url=label, max_untar_size=max_untar_size, max_entries=max_entries)
        else:
            _extract_members(archive, root, url=label, max_untar_size=max_untar_size, max_entries=max_entries)
        _move_into_place(root, dest, label)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _move_into_place(root: Path, dest: Path, label: str) -> None:
    try:
        os.rename(root, dest)  # replaces dest if it is an empty directory
    except OSError as err:
        raise ArtifactError(f"cannot extract artifact from {label} into {dest}: {err.strerror}", label) from err


# -- download ---------------------------------------------------------------------------------------------

async def fetch_artifact(
    url: str,
    digest: str,
    dest_dir: str | os.PathLike[str],
    *,
    session: aiohttp.ClientSession | None = None,
    max_size: int | None = DEFAULT_MAX_DOWNLOAD_SIZE,
    max_untar_size: int | None = DEFAULT_MAX_UNTAR_SIZE,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float = DEFAULT_TIMEOUT,
    host_override: str | None = None,
) -> Path:
    """Download ``url``, check it against ``digest`` and extract it into ``dest_dir``; return ``dest_dir``.

    ``dest_dir`` must not exist or be an empty directory. ``host_override`` replaces the URL's host[:port]
    (what ``SOURCE_CONTROLLER_LOCALHOST`` does in Flux). ``retries`` counts attempts after the first one;
    waits grow from ``backoff`` seconds, doubling, up to 10 s. ``max_size``/``max_untar_size`` None means
    unlimited.
    """
    if host_override:
        url = _replace_host(url, host_override)
    label = redact_url(url)
    try:
        algorithm, expected_hex = parse_digest(digest)
    except ValueError as err:
        raise ArtifactError(f"cannot fetch {label}: {err}", label) from err
    expected = f"{algorithm}:{expected_hex}"
    dest = await asyncio.to_thread(_prepare_destination, dest_dir, label)

    owned = session is None
    client = session or aiohttp.ClientSession()
    try:
        with tempfile.TemporaryFile(dir=dest.parent, prefix=f".{dest.name}.download-") as tmp:
            actual = await _download(client, url, label, tmp, algorithm, max_size=max_size, retries=retries,
                                     backoff=backoff, timeout=aiohttp.ClientTimeout(total=timeout))
            if actual != expected_hex:
                raise DigestMismatch(label, expected, f"{algorithm}:{actual}")
            tmp.seek(0)
            return await asyncio.to_thread(extract_archive, tmp, dest, url=url, max_untar_size=max_untar_size,
                                           max_entries=max_entries)
    finally:
        if owned:
            await client.close()


def _prepare_destination(dest_dir: str | os.PathLike[str], label: str) -> Path:
    dest = Path(dest_dir).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ArtifactError(f"cannot fetch {label}: destination {dest} exists and is not an empty directory", label)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


async def _download(client: aiohttp.ClientSession, url: str, label: str, out: IO[bytes], algorithm: str, *,
                    max_size: int | None, retries: int, backoff: float, timeout: aiohttp.ClientTimeout) -> str:
    """GET ``url`` into ``out`` (retrying transient failures); return the hex digest of what was stored."""
    attempt = 0
    while True:
        out.seek(0)
        out.truncate()
        try:
            return await _get(client, url, label, out, algorithm, max_size=max_size, timeout=timeout)
        except _Transient as transient:
            if attempt >= retries:
                raise DownloadFailed(
                    f"failed to download artifact from {label} after {attempt + 1} attempts: {transient}",
                    label, transient.status) from transient
        await asyncio.sleep(min(backoff * 2**attempt, 10.0))
        attempt += 1


class _Transient(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def _get(client: aiohttp.ClientSession, url: str, label: str, out: IO[bytes], algorithm: str, *,
               max_size: int | None, timeout: aiohttp.ClientTimeout) -> str:
    hasher = hashlib.new(algorithm)
    try:
        async with client.get(url, timeout=timeout, allow_redirects=True) as response:
            if response.status == 404:
                raise ArtifactNotFound(f"artifact not found at {label} (404)", label, 404)
            if response.status in _RETRY_STATUSES:
                raise _Transient(f"status {response.status}", response.status)
            if response.status != 200:
                raise DownloadFailed(f"failed to download artifact from {label} (status: {response.status})",
                                     label, response.status)
            if max_size is not None and (response.content_length or 0) > max_size:
                raise ArtifactTooLarge(
                    f"artifact at {label} is {response.content_length} bytes, above the max download size "
                    f"of {max_size} bytes", label, max_size)
            size = 0
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise ArtifactTooLarge(
                        f"artifact at {label} is bigger than the max download size of {max_size} bytes",
                        label, max_size)
                hasher.update(chunk)
                out.write(chunk)  # a local temp file: fast enough not to need a thread
    except (aiohttp.ClientError, TimeoutError) as err:
        reason = type(err).__name__ if isinstance(err, TimeoutError) else _describe(err)
        raise _Transient(reason) from err
    out.flush()
    return hasher.hexdigest()


def _describe(err: aiohttp.ClientError) -> str:
    # aiohttp messages can embed the request URL (with credentials); keep only the error class and a
    # redacted OS reason.
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"cannot connect ({err.os_error.strerror or type(err.os_error).__name__})"
    return type(err).__name__

