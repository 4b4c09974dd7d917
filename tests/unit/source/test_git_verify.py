"""Signature verification with real tools: `ssh-keygen -Y sign` and `gpg` make the signatures."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from headwater.source.git.operations import CommitInfo, TagInfo
from headwater.source.git.verify import VerificationError, normalise_mode, verify

pytestmark = pytest.mark.unit
PAYLOAD = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@b> 0 +0000\n\nsigned\n"


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    key = tmp_path_factory.mktemp("ssh") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key, Path(f"{key}.pub").read_text()


def ssh_sign(key: Path, payload: bytes) -> bytes:
    return subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(key)], input=payload,
                          capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def pgp(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    home = tmp_path_factory.mktemp("gnupg")
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "T <t@example.com>", "ed25519", "sign",
                    "never"], env=env, check=True, capture_output=True)
    public = subprocess.run(["gpg", "--armor", "--export"], env=env, check=True, capture_output=True).stdout.decode()
    return env, public


def pgp_sign(env: dict[str, str], payload: bytes) -> bytes:
    return subprocess.run(["gpg", "--batch", "--armor", "--detach-sign"], input=payload, env=env,
                          capture_output=True, check=True).stdout


def commit(signature: bytes | None, payload: bytes = PAYLOAD, tag: TagInfo | None = None) -> CommitInfo:
    return CommitInfo(sha="a" * 40, message="signed\n", author="A", signature=signature, signed_payload=payload,
                      tag=tag)


def test_ssh_signature_verifies_with_the_sshpub_key(ssh_key: tuple[Path, str]) -> None:
    key, public = ssh_key
    checked = verify(commit(ssh_sign(key, PAYLOAD)), "HEAD", {"dev.sshpub": public.encode()})
    assert checked[0].what == f"commit {'a' * 40}"
    assert checked[0].fingerprint.startswith("SHA256:")


def test_ssh_signature_over_other_content_is_refused(ssh_key: tuple[Path, str]) -> None:
    key, public = ssh_key
    with pytest.raises(VerificationError, match="does not verify"):
        verify(commit(ssh_sign(key, PAYLOAD), payload=PAYLOAD + b"tampered"), "HEAD", {"dev.sshpub": public.encode()})


def test_ssh_signature_by_an_unknown_key_is_refused(ssh_key: tuple[Path, str], tmp_path: Path) -> None:
    key, _ = ssh_key
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    with pytest.raises(VerificationError, match="does not verify"):
        verify(commit(ssh_sign(key, PAYLOAD)), "HEAD", {"x.sshpub": Path(f"{other}.pub").read_bytes()})


def test_pgp_signature_verifies_and_tampering_is_refused(pgp: tuple[dict[str, str], str]) -> None:
    env, public = pgp
    signature = pgp_sign(env, PAYLOAD)
    checked = verify(commit(signature), "head", {"team.asc": public.encode()})
    assert len(checked[0].fingerprint) == 40
    with pytest.raises(VerificationError, match="OpenPGP signature does not verify"):
        verify(commit(signature, payload=b"other"), "HEAD", {"team.asc": public.encode()})


@pytest.mark.parametrize(
    ("mode", "tagged", "message"),
    [
        ("HEAD", False, "is not signed"),
        ("Tag", False, "needs an annotated tag"),
        ("TagAndHEAD", True, "tag v1 is not signed"),
    ],
)
def test_what_each_mode_requires(mode: str, tagged: bool, message: str, ssh_key: tuple[Path, str]) -> None:
    tag = TagInfo("v1", "b" * 40, "release", None, b"payload") if tagged else None
    with pytest.raises(VerificationError, match=message):
        verify(commit(None, tag=tag), mode, {"k.sshpub": ssh_key[1].encode()})


def test_a_signature_needs_a_key_of_its_kind(ssh_key: tuple[Path, str], pgp: tuple[dict[str, str], str]) -> None:
    key, _ = ssh_key
    with pytest.raises(VerificationError, match=r"no \*\.sshpub key"):
        verify(commit(ssh_sign(key, PAYLOAD)), "HEAD", {"team.asc": pgp[1].encode()})
    with pytest.raises(VerificationError, match="holds no keys"):
        verify(commit(ssh_sign(key, PAYLOAD)), "HEAD", {})


@pytest.mark.parametrize(("given", "expected"), [(None, "HEAD"), ("head", "HEAD"), ("Tag", "Tag"),
                                                  ("TagAndHEAD", "TagAndHEAD")])
def test_mode_normalisation(given: str | None, expected: str) -> None:
    assert normalise_mode(given) == expected
