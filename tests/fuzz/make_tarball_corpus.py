"""Rewrite `corpus/tarball/`: a real headwater artifact and one hostile archive per trick (run from the repo
root: `python -m tests.fuzz.make_tarball_corpus`). Grown files (`grown-*`) are left alone."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
from pathlib import Path

from headwater.artifact.archive import write_archive
from tests.fuzz.test_tarball import FIXED_OUTSIDE, JAIL_MARK, Member, build

OUT = Path(__file__).parent / "corpus" / "tarball"
MANIFESTS = {
    "apps/podinfo/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                       "resources:\n  - deployment.yaml\n",
    "apps/podinfo/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n"
                                    "spec:\n  replicas: 2\n",
    "scripts/run.sh": "#!/bin/sh\necho hi\n",
    "long-" + "n" * 120: "long name\n",
    "ünïcode.yaml": "a: b\n",
}


def member(name: str, type: bytes = tarfile.REGTYPE, data: bytes = b"x\n", declared: int | None = None,
           link: str = "", pax: tuple[tuple[str, str], ...] = ()) -> Member:
    return Member(name, type, data, declared, link, 0o644, 0, pax)


HOSTILE = {
    "absolute-name": [member(".", tarfile.DIRTYPE, b""), member(f"{JAIL_MARK}/outside/victim", data=b"pwned\n")],
    "dotdot": [member("a/../../outside/victim", data=b"pwned\n")],
    "symlink-escape": [member("link", tarfile.SYMTYPE, b"", link="../../outside"),
                       member("link/victim", data=b"pwned\n")],
    "hardlink-escape": [member("hard", tarfile.LNKTYPE, b"", link=f"{JAIL_MARK}/outside/victim"),
                        member("hard", data=b"pwned\n")],
    "device": [member("null", tarfile.CHRTYPE, b"")],
    "fifo": [member("pipe", tarfile.FIFOTYPE, b"")],
    "huge-declared-size": [member("big", declared=8**11 - 1, data=b"short")],
    "pax-huge-size": [member("big", pax=(("size", "99999999999999999999"),))],
    "pax-mtime-inf": [member("f", pax=(("mtime", "inf"),))],
    "pax-mtime-far-past": [member("f", pax=(("mtime", "-1e30"),))],
    "pax-path-escape": [member("ok", pax=(("path", "../pax-escape"),))],
    "file-then-dir": [member("x"), member("x/y")],
    "dir-then-file": [member("x", tarfile.DIRTYPE, b""), member("x")],
    "sparse": [member("s", tarfile.GNUTYPE_SPARSE)],
    "no-end-blocks": [member("f")],
    "backslash": [member("a\\..\\b")],
    "long-component": [member("x" * 300)],
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in MANIFESTS.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        os.chmod(root / "scripts" / "run.sh", 0o755)
        artifact = io.BytesIO()
        write_archive(root, artifact)
    (OUT / "headwater-artifact.tar.gz").write_bytes(artifact.getvalue())
    for name, members in HOSTILE.items():
        (OUT / f"{name}.tar.gz").write_bytes(build(members, FIXED_OUTSIDE, end=name != "no-end-blocks"))
    full = artifact.getvalue()
    (OUT / "truncated.tar.gz").write_bytes(full[: len(full) // 2])
    bomb_header = tarfile.TarInfo("zeros").tobuf().replace(b"00000000000", b"77777777777", 1)
    (OUT / "gzip-bomb.tar.gz").write_bytes(gzip.compress(bomb_header + bytes(4 << 20), mtime=0))
    (OUT / "not-gzip.tar.gz").write_bytes(b"PK\x03\x04 not a tarball")


if __name__ == "__main__":
    main()
