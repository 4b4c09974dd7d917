"""Where artifacts live on disk, how they are named and addressed, and when they are deleted.

The layout and the status record are part of the Flux contract (``fluxcd/pkg`` ``artifact/storage``):
consumers read ``status.artifact`` and download ``url``, so both must look exactly like Flux's.

* Path: ``<kind lower-cased>/<namespace>/<name>/<file>`` under the storage root (directories 0o700,
  files 0o600), e.g. ``gitrepository/flux-system/podinfo/<commit>.tar.gz``.
* URL: ``http://<advertised address>/<path>``; an advertised address that already starts with
  ``http://`` or ``https://`` is used as the prefix as is.
* Record (:class:`Artifact`): ``path``, ``url``, ``revision``, ``digest`` (``sha256:<hex>``),
  ``lastUpdateTime`` (RFC 3339, seconds, UTC), ``size`` and optional ``metadata``.
* Writes are atomic: a hidden temporary file in the same directory, then a rename, so the file server
  never serves half an artifact and a crash leaves no truncated file under the final name.
* "Latest" links: Flux keeps a ``latest.tar.gz`` (``index.yaml`` for HelmRepository) symlink beside
  Bucket, OCIRepository and HelmChart artifacts and publishes its URL as ``status.url``. GitRepository
  has no ``status.url`` since v1 and its controller deletes the old ``latest.tar.gz``; :meth:`Storage.symlink`
  and :meth:`Storage.remove_symlink` serve both cases.
* Garbage collection (``--artifact-retention-records`` 2, ``--artifact-retention-ttl`` 1m): after a new
  artifact is stored, every other file older than the TTL is deleted, and of the rest only the newest
  ``records`` (the current one counted and always kept) survive; lock files go with their artifact,
  symlinks are left alone. Flux's implementation double-counts when both rules apply and can keep one
  file too many; the rule above is what it documents and intends. The artifact the object's status
  still names (``keep``) is kept like the current one: the status moves to the new artifact only after
  the store, and consumers read the old one until then (Flux collects before it stores, with the status
  artifact as the current one, to the same effect).
* Integrity: :meth:`Storage.intact` tells whether an artifact's file is still what was stored. The
  store remembers the ``stat`` of every file it wrote (inode, size, mtime and ctime in nanoseconds;
  ctime cannot be set back by hand), so the check on every reconcile is one ``lstat``; the full digest
  is computed only when the file changed since (or was written by an earlier process), as Flux's
  ``VerifyArtifact`` would on every reconcile.
* Deleting an object removes its whole directory.
* ``spec.include``: :meth:`Storage.copy_to_path` unpacks another artifact (with the consumer's safe
  extraction) and moves a sub-path of it into a checkout, as Flux's ``CopyToPath`` does.
* Concurrency: :meth:`Storage.lock` is a per-object asyncio lock; reconciles of different objects never
  wait for each other, two reconciles of one object never interleave their writes, archive and GC.
  (Flux uses a ``<file>.lock`` file lock because several processes may share the volume; here one
  process owns the storage, the leader.)

Blocking file work is done by plain methods; callers in the event loop run them via ``asyncio.to_thread``
while holding the object's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import posixpath
import shutil
import socket
import stat
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, NamedTuple, cast

from headwater.artifact.archive import ArchiveInfo, Exclude, write_archive
from headwater.artifact.fetch import extract_archive

__all__ = [
    "DEFAULT_RETENTION_RECORDS",
    "DEFAULT_RETENTION_TTL",
    "DEFAULT_STORAGE_ADDR",
    "DEFAULT_STORAGE_PATH",
    "LATEST_LINK",
    "Artifact",
    "ObjectRef",
    "Storage",
    "StorageError",
    "advertised_address",
    "artifact_dir",
    "artifact_path",
    "format_time",
]

DEFAULT_STORAGE_PATH: Final = "/data"
DEFAULT_STORAGE_ADDR: Final = ":9090"
DEFAULT_RETENTION_RECORDS: Final = 2
DEFAULT_RETENTION_TTL: Final = 60.0
"""Seconds (Flux: ``--artifact-retention-ttl=1m``)."""
LATEST_LINK: Final = "latest.tar.gz"
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
LOCK_SUFFIX: Final = ".lock"
TEMP_PREFIX: Final = "."
_CHUNK: Final = 1 << 20


class StorageError(Exception):
    """A storage operation failed (bad path, I/O error, digest mismatch)."""


class _Fingerprint(NamedTuple):
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def _fingerprint(info: os.stat_result) -> _Fingerprint:
    return _Fingerprint(info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class ObjectRef(NamedTuple):
    """The object an artifact belongs to; ``kind`` as in the API (``GitRepository``)."""

    kind: str
    namespace: str
    name: str


def artifact_dir(kind: str, namespace: str, name: str) -> str:
    """``<kind lower-cased>/<namespace>/<name>`` (relative, ``/``-separated, cleaned like Go's path.Join)."""
    return posixpath.normpath(posixpath.join(kind.lower(), namespace, name))


def artifact_path(kind: str, namespace: str, name: str, filename: str) -> str:
    """``<kind lower-cased>/<namespace>/<name>/<filename>``."""
    return posixpath.normpath(posixpath.join(artifact_dir(kind, namespace, name), filename))


def advertised_address(storage_addr: str = DEFAULT_STORAGE_ADDR, storage_adv_addr: str = "") -> str:
    """The host[:port] put in artifact URLs: ``--storage-adv-addr`` if set, else ``--storage-addr`` with an
    empty host replaced by ``localhost`` and ``0.0.0.0`` by ``$HOSTNAME`` (or the host name)."""
    if storage_adv_addr:
        return storage_adv_addr
    host, sep, port = storage_addr.rpartition(":")
    if not sep or not port:
        raise StorageError(f"invalid storage address {storage_addr!r}: expected host:port")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    if host == "":
        host = "localhost"
    elif host == "0.0.0.0":
        host = os.environ.get("HOSTNAME") or socket.gethostname()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as ``metav1.Time`` serialises."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Artifact:
    """Flux's ``meta.Artifact``: what ``status.artifact`` (and ``includedArtifacts[]``) records."""

    path: str
    url: str
    revision: str
    digest: str = ""
    last_update_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    size: int | None = None
    metadata: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The status form, keys in the Go struct's order; ``size``/``metadata`` omitted when empty."""
        out: dict[str, Any] = {
            "path": self.path,
            "url": self.url,
            "revision": self.revision,
            "digest": self.digest,
            "lastUpdateTime": format_time(self.last_update_time),
        }
        if self.size is not None:
            out["size"] = self.size
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Artifact:
        metadata = raw.get("metadata")
        updated = raw.get("lastUpdateTime")
        return cls(
            path=str(raw["path"]),
            url=str(raw.get("url", "")),
            revision=str(raw.get("revision", "")),
            digest=str(raw.get("digest", "")),
            last_update_time=_parse_time(updated) if updated else datetime.fromtimestamp(0, UTC),
            size=int(raw["size"]) if raw.get("size") is not None else None,
            metadata=dict(metadata) if metadata else None,
        )

    def has_revision(self, revision: str) -> bool:
        return self.revision == revision

    @property
    def filename(self) -> str:
        return posixpath.basename(self.path)


class Storage:
    """The artifact store rooted at ``--storage-path``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        hostname: str,
        *,
        retention_records: int = DEFAULT_RETENTION_RECORDS,
        retention_ttl: float = DEFAULT_RETENTION_TTL,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise StorageError(f"invalid dir path: {os.fspath(root)}")
        self.hostname = hostname
        self.retention_records = retention_records
        self.retention_ttl = retention_ttl
        # One lock per object, alive while someone holds or waits for it.
        self._locks: weakref.WeakValueDictionary[ObjectRef, asyncio.Lock] = weakref.WeakValueDictionary()
        # The stat and digest of each file as written (or last verified): what `intact` compares before hashing.
        self._known: dict[Path, tuple[_Fingerprint, str]] = {}

    # -- naming -----------------------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """The download URL of a storage-relative ``path``."""
        path = path.lstrip("/")
        if self.hostname.startswith(("http://", "https://")):
            return f"{self.hostname.rstrip('/')}/{path}"
        return f"http://{self.hostname}/{path}"

    def new_artifact(self, ref: ObjectRef, revision: str, filename: str) -> Artifact:
        """An (unwritten) artifact record for ``filename`` of ``ref``, with its path and URL set."""
        path = artifact_path(ref.kind, ref.namespace, ref.name, filename)
        return Artifact(path=path, url=self.url_for(path), revision=revision)

    def local_path(self, path: str) -> Path:
        """The file for a storage-relative path; refuses anything that would leave the root."""
        rel = posixpath.normpath("/" + path).lstrip("/")
        if not rel or rel == "." or "\0" in rel:
            raise StorageError(f"invalid artifact path {path!r}")
        local = self.root / rel
        try:
            resolved = local.parent.resolve()
        except OSError as err:
            raise StorageError(f"invalid artifact path {path!r}: {err}") from err
        if resolved != self.root and self.root not in resolved.parents:
            raise StorageError(f"artifact path {path!r} escapes the storage root")
        return local

    def object_dir(self, ref: ObjectRef) -> Path:
        """The directory holding all of ``ref``'s files."""
        return self.local_path(artifact_dir(ref.kind, ref.namespace, ref.name))

    # -- locking ----------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lock(self, ref: ObjectRef) -> AsyncIterator[None]:
        """Serialise storage work on one object (kind compared case-insensitively)."""
        key = ObjectRef(ref.kind.lower(), ref.namespace, ref.name)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield

    # -- writing ----------------------------------------------------------------------------------------

    def _atomic_write(self, artifact: Artifact, produce: Callable[[IO[bytes]], tuple[str, int]]) -> Artifact:
        """Create ``artifact``'s file by calling ``produce(fileobj) -> (digest, size)`` on a temp file."""
        target = self.local_path(artifact.path)
        target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f"{TEMP_PREFIX}{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                digest, size = produce(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_name, FILE_MODE)
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        self._known[target] = (_fingerprint(target.lstat()), digest)
        return replace(artifact, digest=digest, size=size, last_update_time=datetime.now(UTC))

    def archive(
        self,
        artifact: Artifact,
        src_dir: str | os.PathLike[str],
        exclude: Exclude | None = None,
    ) -> Artifact:
        """Store the reproducible tarball of ``src_dir`` (minus ``exclude`` matches) as ``artifact``; return
        the record with digest, size and time set."""
        if not Path(src_dir).is_dir():
            raise StorageError(f"invalid dir path: {os.fspath(src_dir)}")

        def produce(out: IO[bytes]) -> tuple[str, int]:
            info: ArchiveInfo = write_archive(src_dir, out, exclude)
            return info.digest, info.size

        return self._atomic_write(artifact, produce)

    def write(self, artifact: Artifact, data: bytes | IO[bytes] | Iterable[bytes]) -> Artifact:
        """Store bytes (or a binary stream, or chunks) as ``artifact``; return it with digest and size."""

        def produce(out: IO[bytes]) -> tuple[str, int]:
            digest = hashlib.sha256()
            size = 0
            chunks: Iterable[bytes]
            if isinstance(data, bytes | bytearray | memoryview):
                chunks = (bytes(data),)
            elif isinstance(data, io.IOBase) or hasattr(data, "read"):
                reader = cast(IO[bytes], data)
                chunks = iter(lambda: reader.read(_CHUNK), b"")
            else:
                chunks = data
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            return f"sha256:{digest.hexdigest()}", size

        return self._atomic_write(artifact, produce)

    def copy_from_path(self, artifact: Artifact, path: str | os.PathLike[str]) -> Artifact:
        """Store a copy of the file at ``path`` as ``artifact``."""
        with open(path, "rb") as src:
            return self.write(artifact, src)

    # -- reading ----------------------------------------------------------------------------------------

    def exists(self, artifact: Artifact) -> bool:
        """Whether the artifact's file is present as a regular file (not a symlink)."""
        try:
            return stat.S_ISREG(self.local_path(artifact.path).lstat().st_mode)
        except (OSError, StorageError):
            return False

    def verify(self, artifact: Artifact) -> None:
        """Raise :class:`StorageError` unless the stored file's digest equals ``artifact.digest``."""
        algorithm, _, expected = artifact.digest.partition(":")
        if not expected:
            raise StorageError("artifact has no digest")
        try:
            hasher = hashlib.new(algorithm)
        except ValueError as err:
            raise StorageError(f"failed to parse artifact digest {artifact.digest!r}: unsupported algorithm") from err
        with open(self.local_path(artifact.path), "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                hasher.update(chunk)
        if hasher.hexdigest() != expected:
            raise StorageError(f"computed digest doesn't match {artifact.digest!r}")

    def unchanged(self, artifact: Artifact) -> bool:
        """Cheap: whether the artifact's file is, by its ``stat``, exactly the one this store wrote or
        verified last with the artifact's digest (False also when it is unknown, e.g. after a restart:
        then ask :meth:`intact`)."""
        try:
            path = self.local_path(artifact.path)
            info = path.lstat()
        except (OSError, StorageError):
            return False
        return stat.S_ISREG(info.st_mode) and self._known.get(path) == (_fingerprint(info), artifact.digest)

    def intact(self, artifact: Artifact) -> bool:
        """Whether the artifact's file still has the recorded digest (and size): the ``stat`` check first,
        the full digest only when the file changed or is unknown. Blocking; a verified file is remembered."""
        if self.unchanged(artifact):
            return True
        try:
            path = self.local_path(artifact.path)
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or (artifact.size is not None and info.st_size != artifact.size):
                return False
            self.verify(artifact)
        except (OSError, StorageError):
            return False
        self._known[path] = (_fingerprint(info), artifact.digest)
        return True

    def remove(self, artifact: Artifact) -> bool:
        """Delete the artifact's file (and its lock file); True if there was one."""
        path = self.local_path(artifact.path)
        self._known.pop(path, None)
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + LOCK_SUFFIX).unlink()
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def copy_to_path(self, artifact: Artifact, sub_path: str, to_path: str | os.PathLike[str]) -> Path:
        """Unpack ``artifact`` and move its ``sub_path`` (a file or directory; clamped inside the artifact)
        to ``to_path``, whose parents are created: what GitRepository ``spec.include`` needs. ``to_path``
        must not exist yet (or be an empty directory)."""
        target = Path(to_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        rel = posixpath.normpath("/" + sub_path).lstrip("/")
        with tempfile.TemporaryDirectory(prefix=".include-", dir=target.parent) as tmp:
            unpacked = extract_archive(self.local_path(artifact.path), Path(tmp, "unpack"), max_untar_size=None,
                                       url=artifact.url)
            source = unpacked / rel if rel else unpacked
            if not source.exists():
                raise StorageError(f"path {sub_path!r} not found in artifact {artifact.path}")
            try:
                os.replace(source, target)  # same file system: the temp dir is beside the target
            except OSError as err:
                raise StorageError(f"cannot copy {sub_path!r} of {artifact.path} to {target}: {err.strerror}") from err
        return target

    # -- links ------------------------------------------------------------------------------------------

    def symlink(self, artifact: Artifact, link_name: str = LATEST_LINK) -> str:
        """Point ``<object dir>/<link_name>`` at ``artifact`` (atomically) and return the link's URL."""
        target = self.local_path(artifact.path)
        link = self.local_path(posixpath.join(posixpath.dirname(artifact.path), link_name))
        tmp = link.with_name(link.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, link)
        return self.url_for(posixpath.join(posixpath.dirname(artifact.path), link_name))

    def remove_symlink(self, ref: ObjectRef, link_name: str = LATEST_LINK) -> bool:
        """Remove a (deprecated) link of ``ref`` if there is one; True if something was removed."""
        link = self.object_dir(ref) / link_name
        if link.is_symlink():
            link.unlink()
            return True
        return False

    # -- garbage collection -----------------------------------------------------------------------------

    def garbage_files(self, artifact: Artifact, *, now: float | None = None,
                      keep: Iterable[Artifact | None] = ()) -> list[Path]:
        """The files GC would delete for ``artifact``'s object, oldest first.

        ``keep``: other artifacts of the object that must survive as the current one does (the one its
        status names until the status is written). Leftover temporary files (from an interrupted write)
        are removed once older than the TTL and never count as one of the retained records.
        """
        current = self.local_path(artifact.path)
        protected = {current} | {self.local_path(k.path) for k in keep if k is not None}
        now = time.time() if now is None else now
        files: list[tuple[float, str, Path]] = []
        try:
            with os.scandir(current.parent) as it:
                for entry in it:
                    if entry.name.endswith(LOCK_SUFFIX) or not entry.is_file(follow_symlinks=False):
                        continue
                    files.append((entry.stat(follow_symlinks=False).st_mtime, entry.name, Path(entry.path)))
        except FileNotFoundError:
            return []
        files.sort()  # oldest first, name as the tie-breaker
        garbage: list[Path] = []
        kept: list[Path] = []
        for mtime, name, path in files:
            if path not in protected and now - mtime > self.retention_ttl:
                garbage.append(path)
            elif not name.startswith(TEMP_PREFIX) or path in protected:
                kept.append(path)
        excess = len(kept) - max(self.retention_records, 0)
        for path in kept:
            if excess <= 0:
                break
            if path not in protected:
                garbage.append(path)
                excess -= 1
        order = {path: i for i, (_, _, path) in enumerate(files)}
        return sorted(garbage, key=order.__getitem__)

    def garbage_collect(self, artifact: Artifact, *, now: float | None = None,
                        keep: Iterable[Artifact | None] = ()) -> list[Path]:
        """Delete what :meth:`garbage_files` names (and their lock files); return what was deleted."""
        deleted: list[Path] = []
        errors: list[str] = []
        for path in self.garbage_files(artifact, now=now, keep=keep):
            self._known.pop(path, None)
            try:
                path.unlink()
                deleted.append(path)
            except FileNotFoundError:
                pass
            except OSError as err:
                errors.append(f"{path.name}: {err.strerror}")
            with contextlib.suppress(FileNotFoundError):
                path.with_name(path.name + LOCK_SUFFIX).unlink()
        if errors:
            raise StorageError(f"failed to remove files: {', '.join(errors)}")
        return deleted

    def remove_all_but_current(self, artifact: Artifact) -> list[Path]:
        """Delete every other file of the object (symlinks kept)."""
        current = self.local_path(artifact.path)
        deleted = []
        with contextlib.suppress(FileNotFoundError), os.scandir(current.parent) as it:
            for entry in it:
                path = Path(entry.path)
                if path != current and not entry.is_dir(follow_symlinks=False) and not entry.is_symlink():
                    self._known.pop(path, None)
                    path.unlink()
                    deleted.append(path)
        return deleted

    def remove_all(self, ref: ObjectRef) -> Path | None:
        """Delete everything stored for ``ref`` (on object deletion); return the removed directory."""
        directory = self.object_dir(ref)
        for path in [p for p in self._known if p.parent == directory]:
            del self._known[path]
        if not directory.exists():
            return None
        shutil.rmtree(directory)
        return directory
