"""Unit tests for headwater.artifact.storage: layout, records, atomic writes, links, GC and per-object locks."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.artifact.ignore import tree_matcher
from headwater.artifact.storage import (
    DEFAULT_RETENTION_RECORDS,
    DEFAULT_RETENTION_TTL,
    Artifact,
    ObjectRef,
    Storage,
    StorageError,
    advertised_address,
    artifact_dir,
    artifact_path,
    format_time,
)

from .conftest import write_tree

pytestmark = pytest.mark.unit

PODINFO = ObjectRef("GitRepository", "flux-system", "podinfo")
SHA = "132f4e719209eb10b9485302f8593fc0e680f4fc"


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    root = tmp_path / "data"
    root.mkdir()
    return Storage(root, "source-controller.flux-system.svc.cluster.local.")


def test_defaults_match_flux_flags() -> None:
    assert DEFAULT_RETENTION_RECORDS == 2
    assert DEFAULT_RETENTION_TTL == 60.0


def test_paths() -> None:
    assert artifact_dir("GitRepository", "flux-system", "podinfo") == "gitrepository/flux-system/podinfo"
    assert artifact_path("OCIRepository", "apps", "x", "latest.tar.gz") == "ocirepository/apps/x/latest.tar.gz"


def test_new_artifact_path_and_url(storage: Storage) -> None:
    artifact = storage.new_artifact(PODINFO, f"main@sha1:{SHA}", f"{SHA}.tar.gz")
    assert artifact.path == f"gitrepository/flux-system/podinfo/{SHA}.tar.gz"
    assert artifact.url == f"http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/podinfo/{SHA}.tar.gz"
    assert artifact.revision == f"main@sha1:{SHA}"
    assert artifact.filename == f"{SHA}.tar.gz"


@pytest.mark.parametrize(
    ("hostname", "url"),
    [
        ("localhost:9090", "http://localhost:9090/a/b"),
        ("http://proxy.example/prefix", "http://proxy.example/prefix/a/b"),
        ("https://artifacts.example/", "https://artifacts.example/a/b"),
    ],
)
def test_url_for(tmp_path: Path, hostname: str, url: str) -> None:
    assert Storage(tmp_path, hostname).url_for("/a/b") == url


@pytest.mark.parametrize(
    ("addr", "adv", "expected"),
    [
        (":9090", "", "localhost:9090"),
        ("127.0.0.1:9090", "", "127.0.0.1:9090"),
        (":9090", "sc.flux-system.svc.cluster.local.", "sc.flux-system.svc.cluster.local."),
        ("[::1]:9090", "", "[::1]:9090"),
    ],
)
def test_advertised_address(addr: str, adv: str, expected: str) -> None:
    assert advertised_address(addr, adv) == expected


def test_advertised_address_wildcard_uses_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTNAME", "source-controller-7d9f")
    assert advertised_address("0.0.0.0:9090") == "source-controller-7d9f:9090"


def test_advertised_address_invalid() -> None:
    with pytest.raises(StorageError):
        advertised_address("9090")


def test_artifact_dict_round_trip() -> None:
    moment = datetime(2022, 2, 14, 11, 23, 36, 123456, tzinfo=UTC)
    artifact = Artifact(path="p", url="u", revision="r", digest="sha256:ab", last_update_time=moment, size=91318)
    raw = artifact.to_dict()
    assert raw == {"path": "p", "url": "u", "revision": "r", "digest": "sha256:ab",
                   "lastUpdateTime": "2022-02-14T11:23:36Z", "size": 91318}
    assert list(raw) == ["path", "url", "revision", "digest", "lastUpdateTime", "size"]
    back = Artifact.from_dict(raw)
    assert back.to_dict() == raw
    with_meta = Artifact.from_dict({**raw, "metadata": {"org.opencontainers.image.revision": "x"}})
    assert with_meta.to_dict()["metadata"] == {"org.opencontainers.image.revision": "x"}
    assert Artifact.from_dict({"path": "p"}).to_dict()["lastUpdateTime"] == "1970-01-01T00:00:00Z"


def test_format_time_converts_to_utc() -> None:
    from datetime import timedelta, timezone

    assert format_time(datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))) == "2024-01-01T00:00:00Z"


@pytest.mark.parametrize("path", ["../../etc/passwd", "/../x/../../y", "a/../../b"])
def test_local_path_never_leaves_root(storage: Storage, path: str) -> None:
    local = storage.local_path(path)
    assert storage.root in local.parents


def test_local_path_refuses_symlinked_escape(storage: Storage, tmp_path: Path) -> None:
    os.symlink(tmp_path, storage.root / "gitrepository")
    with pytest.raises(StorageError, match="escapes"):
        storage.local_path("gitrepository/ns/name/file.tar.gz")


@pytest.mark.parametrize("path", ["", ".", "/"])
def test_local_path_refuses_empty(storage: Storage, path: str) -> None:
    with pytest.raises(StorageError):
        storage.local_path(path)


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="invalid dir path"):
        Storage(tmp_path / "missing", "localhost:9090")


# -- writing ----------------------------------------------------------------------------------------------

def test_archive_stores_file_and_record(storage: Storage, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"app/deploy.yaml": "kind: Deployment\n", ".git/HEAD": "x", "logo.png": "p"}
    src = write_tree(tmp_path / "checkout", files)
    artifact = storage.new_artifact(PODINFO, f"main@sha1:{SHA}", f"{SHA}.tar.gz")
    stored = storage.archive(artifact, src, tree_matcher(src))
    local = storage.local_path(stored.path)
    data = local.read_bytes()
    assert stored.size == len(data)
    assert stored.digest.startswith("sha256:")
    assert len(stored.digest) == 71
    assert (datetime.now(UTC) - stored.last_update_time).total_seconds() < 5
    assert local.stat().st_mode & 0o777 == 0o600
    assert local.parent.stat().st_mode & 0o777 == 0o700
    assert sorted(os.listdir(local.parent)) == [f"{SHA}.tar.gz"]  # no temp files left behind
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert tar.getnames() == [".", "app", "app/deploy.yaml"]
    storage.verify(stored)
    assert storage.exists(stored)


def test_archive_of_missing_dir_leaves_nothing(storage: Storage, tmp_path: Path) -> None:
    artifact = storage.new_artifact(PODINFO, "r", "x.tar.gz")
    with pytest.raises(StorageError):
        storage.archive(artifact, tmp_path / "missing")
    assert not storage.exists(artifact)


def test_failed_write_keeps_previous_file_and_no_temp(storage: Storage) -> None:
    artifact = storage.new_artifact(PODINFO, "r", "index.yaml")
    storage.write(artifact, b"old")

    def broken() -> object:
        yield b"partial"
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError):
        storage.write(artifact, broken())  # type: ignore[arg-type]
    local = storage.local_path(artifact.path)
    assert local.read_bytes() == b"old"
    assert os.listdir(local.parent) == ["index.yaml"]


def test_write_variants(storage: Storage, tmp_path: Path) -> None:
    import hashlib

    expected = "sha256:" + hashlib.sha256(b"hello world").hexdigest()
    a = storage.write(storage.new_artifact(PODINFO, "r", "a"), b"hello world")
    b = storage.write(storage.new_artifact(PODINFO, "r", "b"), io.BytesIO(b"hello world"))
    c = storage.write(storage.new_artifact(PODINFO, "r", "c"), [b"hello", b" ", b"world"])
    (tmp_path / "src").write_bytes(b"hello world")
    d = storage.copy_from_path(storage.new_artifact(PODINFO, "r", "d"), tmp_path / "src")
    assert {x.digest for x in (a, b, c, d)} == {expected}
    assert {x.size for x in (a, b, c, d)} == {11}


def test_verify_detects_tampering(storage: Storage) -> None:
    stored = storage.write(storage.new_artifact(PODINFO, "r", "f"), b"content")
    storage.local_path(stored.path).write_bytes(b"tampered")
    with pytest.raises(StorageError, match="doesn't match"):
        storage.verify(stored)
    with pytest.raises(StorageError, match="no digest"):
        storage.verify(Artifact(path=stored.path, url="", revision=""))


def test_exists_is_false_for_symlinks_and_missing(storage: Storage) -> None:
    stored = storage.write(storage.new_artifact(PODINFO, "r", "f"), b"content")
    storage.symlink(stored, "link")
    assert storage.exists(stored)
    assert not storage.exists(Artifact(path=f"{artifact_dir(*PODINFO)}/link", url="", revision=""))
    assert not storage.exists(Artifact(path=f"{artifact_dir(*PODINFO)}/missing", url="", revision=""))


# -- links ------------------------------------------------------------------------------------------------

def test_latest_symlink(storage: Storage) -> None:
    ref = ObjectRef("OCIRepository", "apps", "podinfo")
    first = storage.write(storage.new_artifact(ref, "latest@sha256:aa", "aa.tar.gz"), b"one")
    url = storage.symlink(first)
    assert url == "http://source-controller.flux-system.svc.cluster.local./ocirepository/apps/podinfo/latest.tar.gz"
    link = storage.object_dir(ref) / "latest.tar.gz"
    assert link.read_bytes() == b"one"
    second = storage.write(storage.new_artifact(ref, "latest@sha256:bb", "bb.tar.gz"), b"two")
    storage.symlink(second)
    assert link.read_bytes() == b"two"
    assert sorted(os.listdir(link.parent)) == ["aa.tar.gz", "bb.tar.gz", "latest.tar.gz"]
    assert storage.remove_symlink(ref)
    assert not storage.remove_symlink(ref)
    assert not link.exists()


# -- garbage collection -----------------------------------------------------------------------------------

def _files(storage: Storage, ref: ObjectRef, ages: dict[str, float], now: float) -> dict[str, Artifact]:
    out = {}
    for name, age in ages.items():
        artifact = storage.write(storage.new_artifact(ref, name, name), name.encode())
        os.utime(storage.local_path(artifact.path), (now - age, now - age))
        out[name] = artifact
    return out


def _remaining(storage: Storage, ref: ObjectRef) -> list[str]:
    return sorted(os.listdir(storage.object_dir(ref)))


@pytest.mark.parametrize(
    ("ages", "current", "records", "ttl", "remaining"),
    [
        # within the TTL: the newest N survive, the current one among them
        ({"a": 30, "b": 20, "c": 10, "d": 5}, "d", 2, 60, ["c", "d"]),
        # the current artifact is kept even when it is the oldest
        ({"a": 30, "b": 20, "c": 10}, "a", 2, 60, ["a", "c"]),
        # older than the TTL: gone, even if fewer than N remain
        ({"a": 600, "b": 300, "c": 10}, "c", 5, 60, ["c"]),
        # ... but never the current one
        ({"a": 600, "b": 300}, "a", 2, 60, ["a"]),
        # both rules together
        ({"a": 600, "b": 50, "c": 40, "d": 30, "e": 1}, "e", 2, 60, ["d", "e"]),
        # records 0 keeps only the current artifact
        ({"a": 3, "b": 2, "c": 1}, "b", 0, 60, ["b"]),
        # nothing to do
        ({"a": 5, "b": 1}, "b", 2, 60, ["a", "b"]),
    ],
)
def test_garbage_collect(tmp_path: Path, ages: dict[str, float], current: str, records: int, ttl: float,
                         remaining: list[str]) -> None:
    root = tmp_path / "data"
    root.mkdir()
    storage = Storage(root, "localhost:9090", retention_records=records, retention_ttl=ttl)
    now = 1_700_000_000.0
    artifacts = _files(storage, PODINFO, ages, now)
    deleted = storage.garbage_collect(artifacts[current], now=now)
    assert _remaining(storage, PODINFO) == remaining
    assert sorted(p.name for p in deleted) == sorted(set(ages) - set(remaining))


@pytest.mark.parametrize(
    ("ages", "current", "keep", "records", "ttl", "remaining"),
    [
        # the artifact the status still names is older than the TTL: it stays until the status moves on
        ({"old": 3600, "new": 0}, "new", ["old"], 2, 60, ["new", "old"]),
        # ... and beyond the record count too, while an unnamed leftover (a killed store) goes
        ({"old": 50, "orphan": 10, "new": 0}, "new", ["old"], 2, 60, ["new", "old"]),
        # records 0: only the current artifact and the one still named
        ({"a": 3, "b": 2, "c": 1}, "c", ["a"], 0, 60, ["a", "c"]),
        # nothing named (a first artifact): the ordinary rules
        ({"a": 600, "b": 0}, "b", [None], 2, 60, ["b"]),
    ],
)
def test_garbage_collect_keeps_the_artifact_the_status_still_names(
    tmp_path: Path, ages: dict[str, float], current: str, keep: list[str | None], records: int, ttl: float,
    remaining: list[str],
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    storage = Storage(root, "localhost:9090", retention_records=records, retention_ttl=ttl)
    now = 1_700_000_000.0
    artifacts = _files(storage, PODINFO, ages, now)
    storage.garbage_collect(artifacts[current], now=now, keep=[artifacts[k] if k else None for k in keep])
    assert _remaining(storage, PODINFO) == remaining


def test_gc_removes_lock_files_keeps_symlinks_and_counts_no_temp_files(storage: Storage) -> None:
    now = 1_700_000_000.0
    artifacts = _files(storage, PODINFO, {"a": 30, "b": 20, "c": 10}, now)
    directory = storage.object_dir(PODINFO)
    (directory / "a.lock").write_text("")
    (directory / "stale.lock").write_text("")
    storage.symlink(artifacts["c"])
    temp = directory / ".c.abc.tmp"
    temp.write_text("left over by a crash")
    os.utime(temp, (now - 1, now - 1))
    storage.garbage_collect(artifacts["c"], now=now)
    # the newest temp file does not take a record's place; 'a' and its lock go, the link stays
    assert _remaining(storage, PODINFO) == [".c.abc.tmp", "b", "c", "latest.tar.gz", "stale.lock"]
    os.utime(temp, (now - 3600, now - 3600))
    storage.garbage_collect(artifacts["c"], now=now)
    assert ".c.abc.tmp" not in _remaining(storage, PODINFO)


def test_gc_of_object_without_files(storage: Storage) -> None:
    artifact = storage.new_artifact(PODINFO, "r", "x.tar.gz")
    assert storage.garbage_collect(artifact) == []


def test_remove_all_and_all_but_current(storage: Storage) -> None:
    now = 1_700_000_000.0
    artifacts = _files(storage, PODINFO, {"a": 3, "b": 2, "c": 1}, now)
    other = ObjectRef("GitRepository", "flux-system", "other")
    storage.write(storage.new_artifact(other, "r", "x"), b"x")
    storage.symlink(artifacts["c"])
    removed = storage.remove_all_but_current(artifacts["c"])
    assert sorted(p.name for p in removed) == ["a", "b"]
    assert _remaining(storage, PODINFO) == ["c", "latest.tar.gz"]
    assert storage.remove_all(PODINFO) == storage.object_dir(PODINFO)
    assert not storage.object_dir(PODINFO).exists()
    assert storage.remove_all(PODINFO) is None
    assert _remaining(storage, other) == ["x"]


# -- locks ------------------------------------------------------------------------------------------------

async def test_lock_serialises_one_object_not_others(storage: Storage) -> None:
    log: list[str] = []

    async def work(ref: ObjectRef, tag: str, hold: float) -> None:
        async with storage.lock(ref):
            log.append(f"{tag}+")
            await asyncio.sleep(hold)
            log.append(f"{tag}-")

    other = ObjectRef("GitRepository", "flux-system", "other")
    same_kind_other_case = ObjectRef("gitrepository", "flux-system", "podinfo")
    await asyncio.gather(work(PODINFO, "a", 0.05), work(same_kind_other_case, "b", 0.01), work(other, "c", 0.01))
    assert log.index("a-") < log.index("b+")  # same object (kind case-insensitive): one after the other
    assert log.index("c+") < log.index("a-")  # another object does not wait
    assert len(storage._locks) == 0  # locks disappear once nobody holds them


async def test_archive_in_thread_under_lock(storage: Storage, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.yaml": "a"})
    artifact = storage.new_artifact(PODINFO, "r", "a.tar.gz")
    async with storage.lock(PODINFO):
        stored = await asyncio.to_thread(storage.archive, artifact, src)
        await asyncio.to_thread(storage.garbage_collect, stored)
    storage.verify(stored)


# -- includes ---------------------------------------------------------------------------------------------

def test_copy_to_path(storage: Storage, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "other", {"deploy/app/a.yaml": "a", "deploy/b.yaml": "b", "README": "r"})
    included = storage.archive(storage.new_artifact(PODINFO, "r", "inc.tar.gz"), src)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    target = storage.copy_to_path(included, "deploy", checkout / "base" / "app")
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*")) == ["app", "app/a.yaml", "b.yaml"]
    whole = storage.copy_to_path(included, "", checkout / "all")
    assert (whole / "README").read_text() == "r"
    clamped = storage.copy_to_path(included, "../../deploy/app", checkout / "clamped")
    assert (clamped / "a.yaml").read_text() == "a"
    assert sorted(os.listdir(checkout)) == ["all", "base", "clamped"]  # no temp dirs left
    with pytest.raises(StorageError, match="not found"):
        storage.copy_to_path(included, "missing", checkout / "x")
    with pytest.raises(StorageError, match="cannot copy"):
        storage.copy_to_path(included, "deploy", checkout / "all")  # exists and is not empty


def _append(path: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"X")


def _flip_keeping_mtime(path: Path) -> None:
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _touch(path: Path) -> None:
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))


def _replace_by_symlink(path: Path) -> None:
    copy = path.with_name("copy")
    copy.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(copy)


# (what happens to the file, whether the stat check still vouches for it, whether its digest holds)
TAMPERING = [
    ("nothing", lambda path: None, True, True),
    ("appended to: the size differs", _append, False, False),
    ("a byte flipped, mtime put back: ctime tells", _flip_keeping_mtime, False, False),
    ("only touched: the digest is computed, and holds", _touch, False, True),
    ("replaced by a symlink to the same bytes", _replace_by_symlink, False, False),
    ("deleted", lambda path: path.unlink(), False, False),
]


@pytest.mark.parametrize(("change", "unchanged", "intact"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_intact_checks_the_stat_first_and_the_digest_when_it_changed(
        storage: Storage, change: object, unchanged: bool, intact: bool) -> None:
    stored = storage.write(storage.new_artifact(PODINFO, f"main@sha1:{SHA}", f"{SHA}.tar.gz"), b"payload" * 100)
    path = storage.local_path(stored.path)
    assert storage.unchanged(stored)
    change(path)  # type: ignore[operator]
    assert storage.unchanged(stored) is unchanged
    assert storage.intact(stored) is intact
    if intact:
        assert storage.unchanged(stored), "a verified file is remembered: the next check is a stat again"


def test_after_a_restart_the_first_check_computes_the_digest(storage: Storage) -> None:
    stored = storage.write(storage.new_artifact(PODINFO, f"main@sha1:{SHA}", f"{SHA}.tar.gz"), b"payload")
    again = Storage(storage.root, storage.hostname)
    assert not again.unchanged(stored)
    assert again.intact(stored)
    assert again.unchanged(stored)
    assert not again.intact(replace_digest(stored, "sha256:" + "0" * 64))


def replace_digest(artifact: Artifact, digest: str) -> Artifact:
    from dataclasses import replace

    return replace(artifact, digest=digest)


def test_remove_deletes_the_file_and_forgets_it(storage: Storage) -> None:
    stored = storage.write(storage.new_artifact(PODINFO, f"main@sha1:{SHA}", f"{SHA}.tar.gz"), b"payload")
    assert storage.remove(stored)
    assert not storage.exists(stored)
    assert not storage.remove(stored)
    assert not storage.unchanged(stored)
