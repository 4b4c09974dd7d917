"""The artifact HTTP server: the storage root, read-only, on ``--storage-addr`` (default ``:9090``).

Flux serves the storage directory with Go's ``http.FileServer``; consumers only ever ``GET`` an artifact
``url``. This server answers those requests the same way (200 with the bytes, ranges, conditional
requests) and is stricter everywhere else:

* No directory listings. ``GET /`` answers 200 ``ok`` (Flux's manifests use it as the readiness probe,
  which a listing satisfies there); any other directory is 404.
* Nothing outside the root: a path with ``..``, ``.`` or empty segments, a NUL or backslash, or whose
  real path (after symlinks) leaves the root is 404. Symlinks inside the root (``latest.tar.gz``) work.
  Dot-files (temporary files being written) are 404.
* ``GET`` and ``HEAD`` only (405 otherwise).

Caching: the ``ETag`` is strong and content-based, ``"sha256:<hex>"`` (the artifact's own digest), so a
client holding ``status.artifact.digest`` can send ``If-None-Match`` without having seen a response. The
hash is computed once per file version and cached under (device, inode, size, mtime): storage never
rewrites a file in place (it renames a new inode over it), so a cached value cannot go stale unnoticed,
and hashing costs one extra read per new artifact. ``If-None-Match`` (weak comparison, ``*``) gives 304;
``If-Modified-Since`` is honoured only without ``If-None-Match``.

Ranges (RFC 9110 section 14): one ``bytes=`` range (``a-b``, ``a-``, ``-n``) gives 206 with
``Content-Range``; a well-formed range set none of whose ranges overlaps the file gives 416 with
``Content-Range: bytes */<size>``. A Range header in another unit, or malformed (``bytes=abc``, an
inverted ``5-1``, no unit), is ignored: 200 with the whole file, as the RFC requires for unknown units
and allows for invalid ranges (Go's file server answers those with 416; a client that sent garbage is
better served by the file). Several ranges are answered with the whole file (200), which RFC 9110
allows. ``If-Range`` with a matching strong ETag or exact ``Last-Modified`` date keeps the range,
anything else gets the whole file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from aiohttp import web

__all__ = [
    "ETAG_CACHE_SIZE",
    "ArtifactServer",
    "ByteRange",
    "RangeNotSatisfiable",
    "content_type",
    "create_app",
    "parse_range",
]

ETAG_CACHE_SIZE: Final = 1024
_CHUNK: Final = 256 * 1024
_ALLOWED: Final = ("GET", "HEAD")

_CONTENT_TYPES: Final = {
    ".tar.gz": "application/x-gzip",  # what Go's content sniffing says for gzip
    ".tgz": "application/x-gzip",
    ".gz": "application/x-gzip",
    ".yaml": "text/plain; charset=utf-8",
    ".yml": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


def content_type(name: str) -> str:
    """Content type by file name; artifacts are gzip archives, Helm indexes YAML."""
    for suffix, kind in _CONTENT_TYPES.items():
        if name.endswith(suffix):
            return kind
    return "application/octet-stream"


class ByteRange:
    """An inclusive byte range ``first..last`` of a file."""

    __slots__ = ("first", "last")

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        self.last = last

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByteRange) and (self.first, self.last) == (other.first, other.last)

    def __hash__(self) -> int:
        return hash((self.first, self.last))

    def __repr__(self) -> str:
        return f"ByteRange({self.first}, {self.last})"


class RangeNotSatisfiable(ValueError):
    """A well-formed ``bytes`` range set none of whose ranges overlaps the file (answered with 416)."""


class _Malformed(Exception):
    pass


# A position with more digits than this is past the end of any file (and int() of it stays cheap).
_MAX_DIGITS: Final = 18


def _position(text: str) -> int:
    text = text.strip()
    if not text or not text.isascii() or not text.isdigit():
        raise _Malformed(text)
    return 10**_MAX_DIGITS if len(text) > _MAX_DIGITS else int(text)


def _specs(header: str) -> list[tuple[int | None, int | None]] | None:
    """The ``(first, last)`` pairs of a ``bytes=`` header (``(None, n)`` for a suffix ``-n``), or None
    when the header is in another unit or malformed."""
    unit, sep, spec = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    specs: list[tuple[int | None, int | None]] = []
    try:
        for part in parts:
            start_text, dash, end_text = part.partition("-")
            if not dash:
                raise _Malformed(part)
            if start_text.strip() == "":
                specs.append((None, _position(end_text)))
                continue
            first = _position(start_text)
            last = None if end_text.strip() == "" else _position(end_text)
            if last is not None and last < first:
                raise _Malformed(part)  # "invalid" in RFC 9110 section 14.1.1
            specs.append((first, last))
    except _Malformed:
        return None
    return specs or None


def parse_range(header: str, size: int) -> ByteRange | None:
    """The single range a ``Range`` header asks for, clamped to ``size``; None when the whole file is to
    be sent: a header in another unit or malformed (ignored, RFC 9110 section 14.2), several ranges, or a
    suffix range of an empty file. Raises :class:`RangeNotSatisfiable` when the header is well formed
    but none of its ranges overlaps the file (a start at or past the end, ``-0``).
    """
    specs = _specs(header)
    if specs is None:
        return None
    ranges: list[ByteRange] = []
    for first, last in specs:
        if first is None:
            suffix = last or 0
            if suffix == 0:
                continue  # "-0" asks for nothing: unsatisfiable unless another range is
            if size == 0:
                return None  # satisfiable by RFC 9110, but no Content-Range can say so: the (empty) file
            ranges.append(ByteRange(size - min(suffix, size), size - 1))
        elif first < size:
            ranges.append(ByteRange(first, size - 1 if last is None else min(last, size - 1)))
    if not ranges:
        raise RangeNotSatisfiable(header)
    if len(specs) > 1:
        return None
    return ranges[0]


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` semantics: ``*`` or any listed tag equal to ours under weak comparison."""
    ours = etag.removeprefix("W/")
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == ours:
            return True
    return False


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ArtifactServer:
    """Serves files below ``root``; :meth:`app` builds the aiohttp application."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self._etags: OrderedDict[tuple[int, int, int, int], str] = OrderedDict()
        self._etags_lock = threading.Lock()  # hashing runs in worker threads

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- path resolution --------------------------------------------------------------------------------

    def resolve(self, raw_path: str) -> Path | None:
        """The real file a request path names, or None if it is not a servable file inside the root."""
        segments = raw_path.split("/")
        if segments[0] != "":
            return None
        names = []
        for segment in segments[1:]:
            name = unquote(segment, errors="strict")
            if name in ("", ".", "..") or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
                return None
            names.append(name)
        if not names:
            return None
        try:
            real = Path(os.path.realpath(self.root.joinpath(*names), strict=True))
        except (OSError, ValueError):
            return None
        if self.root not in real.parents:
            return None
        return real

    # -- ETags ------------------------------------------------------------------------------------------

    def _etag(self, fd: int, st: os.stat_result) -> str:
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._etags_lock:
            cached = self._etags.get(key)
            if cached is not None:
                self._etags.move_to_end(key)
                return cached
        hasher = hashlib.sha256()
        offset = 0
        while offset < st.st_size:
            chunk = os.pread(fd, min(_CHUNK * 4, st.st_size - offset), offset)
            if not chunk:
                break
            hasher.update(chunk)
            offset += len(chunk)
        etag = f'"sha256:{hasher.hexdigest()}"'
        with self._etags_lock:
            self._etags[key] = etag
            while len(self._etags) > ETAG_CACHE_SIZE:
                self._etags.popitem(last=False)
        return etag

    # -- handler ----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in _ALLOWED:
            raise web.HTTPMethodNotAllowed(request.method, _ALLOWED)
        raw_path = request.rel_url.raw_path
        if raw_path == "/":
            return web.Response(text="ok\n")
        try:
            path = self.resolve(raw_path)
        except UnicodeDecodeError:
            path = None
        if path is None:
            raise web.HTTPNotFound()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as err:
            raise web.HTTPNotFound() from err
        try:
            return await self._serve(request, path, fd)
        finally:
            os.close(fd)

    async def _serve(self, request: web.Request, path: Path, fd: int) -> web.StreamResponse:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise web.HTTPNotFound()
        size = st.st_size
        etag = await asyncio.to_thread(self._etag, fd, st)
        modified = datetime.fromtimestamp(int(st.st_mtime), UTC)
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(modified, usegmt=True),
            "Accept-Ranges": "bytes",
        }

        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            if _etag_matches(if_none_match, etag):
                return web.Response(status=304, headers=headers)
        else:
            since = _http_date(request.headers.get("If-Modified-Since", ""))
            if since is not None and modified <= since:
                return web.Response(status=304, headers=headers)

        selected: ByteRange | None = None
        range_header = request.headers.get("Range")
        if range_header is not None and self._range_applies(request.headers.get("If-Range"), etag, modified):
            try:
                selected = parse_range(range_header, size)
            except RangeNotSatisfiable:
                headers["Content-Range"] = f"bytes */{size}"
                return web.Response(status=416, headers=headers)

        response = web.StreamResponse(status=206 if selected else 200, headers=headers)
        response.content_type = content_type(path.name)
        if selected is not None:
            response.headers["Content-Range"] = f"bytes {selected.first}-{selected.last}/{size}"
            first, length = selected.first, selected.length
        else:
            first, length = 0, size
        response.content_length = length
        await response.prepare(request)
        if request.method == "GET":
            await self._copy(fd, first, length, response)
        await response.write_eof()
        return response

    @staticmethod
    def _range_applies(if_range: str | None, etag: str, modified: datetime) -> bool:
        if if_range is None:
            return True
        if_range = if_range.strip()
        if if_range.startswith(('"', "W/")):
            return if_range == etag  # strong comparison; weak tags never match
        date = _http_date(if_range)
        return date is not None and date == modified

    @staticmethod
    async def _copy(fd: int, offset: int, length: int, response: web.StreamResponse) -> None:
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(os.pread, fd, min(_CHUNK, remaining), offset)
            if not chunk:
                break  # the file shrank: the client sees a short body and fails on Content-Length
            await response.write(chunk)
            offset += len(chunk)
            remaining -= len(chunk)


def create_app(root: str | os.PathLike[str]) -> web.Application:
    """The aiohttp application serving ``root`` (give it to the manager's ``add_server``)."""
    return ArtifactServer(root).app()
