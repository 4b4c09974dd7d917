"""Verify commit and tag signatures against the keys in `spec.verify.secretRef`.

Flux's rules: keys named `*.asc` are OpenPGP public keys, `*.sshpub` are SSH public keys in
authorized_keys format, anything else is treated as an OpenPGP keyring. `verify.mode` chooses what must be
signed: `HEAD` (the checked-out commit; `head` is the legacy spelling), `Tag` (the annotated tag) or
`TagAndHEAD` (both). The checks run the real tools, `gpg` for OpenPGP and `ssh-keygen -Y verify` for SSH
signatures, in a throw-away home directory, so nothing of the host's keyrings is trusted.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from headwater.source.git.operations import CommitInfo

SSH_SIGNATURE = b"-----BEGIN SSH SIGNATURE-----"
PGP_SIGNATURE = b"-----BEGIN PGP SIGNATURE-----"


class VerificationError(Exception):
    """A signature is missing, malformed or made by a key not in the Secret."""

    reason = "VerificationError"


@dataclass(frozen=True)
class VerifiedSignature:
    what: str  # "commit <sha>" or "tag <name>"
    fingerprint: str


def normalise_mode(mode: str | None) -> str:
    return "HEAD" if mode in (None, "", "head", "HEAD") else mode


def verify(commit: CommitInfo, mode: str, keys: dict[str, bytes]) -> list[VerifiedSignature]:
    """Check what `mode` requires; raise `VerificationError` naming what failed."""
    mode = normalise_mode(mode)
    checked: list[VerifiedSignature] = []
    if mode in ("Tag", "TagAndHEAD"):
        if commit.tag is None:
            raise VerificationError(f"cannot verify the tag: mode {mode} needs an annotated tag in spec.ref")
        checked.append(_verify(f"tag {commit.tag.name}", commit.tag.signature, commit.tag.signed_payload, keys))
    if mode in ("HEAD", "TagAndHEAD"):
        checked.append(_verify(f"commit {commit.sha}", commit.signature, commit.signed_payload, keys))
    return checked


def _verify(what: str, signature: bytes | None, payload: bytes, keys: dict[str, bytes]) -> VerifiedSignature:
    if not signature:
        raise VerificationError(f"{what} is not signed")
    if not keys:
        raise VerificationError("the verification Secret holds no keys")
    if signature.lstrip().startswith(SSH_SIGNATURE):
        ssh_keys = [v for k, v in keys.items() if k.endswith(".sshpub")]
        if not ssh_keys:
            raise VerificationError(f"{what} has an SSH signature but the Secret has no *.sshpub key")
        return VerifiedSignature(what, _verify_ssh(what, signature, payload, ssh_keys))
    if signature.lstrip().startswith(PGP_SIGNATURE):
        pgp_keys = [v for k, v in keys.items() if not k.endswith(".sshpub")]
        if not pgp_keys:
            raise VerificationError(f"{what} has an OpenPGP signature but the Secret has no OpenPGP key")
        return VerifiedSignature(what, _verify_pgp(what, signature, payload, pgp_keys))
    raise VerificationError(f"{what} has a signature of an unknown format")


def _verify_ssh(what: str, signature: bytes, payload: bytes, keys: list[bytes]) -> str:
    with tempfile.TemporaryDirectory(prefix="hw-verify-") as tmp:
        allowed = Path(tmp, "allowed_signers")
        lines = []
        for blob in keys:
            for line in blob.decode(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    lines.append(f"headwater {line}")
        allowed.write_text("\n".join(lines) + "\n")
        sig = Path(tmp, "signature")
        sig.write_bytes(signature)
        result = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "headwater", "-n", "git", "-s", str(sig)],
            input=payload, capture_output=True, timeout=30,
        )
    if result.returncode != 0:
        raise VerificationError(f"{what}: SSH signature does not verify against the keys in the Secret")
    out = result.stdout.decode(errors="replace")
    return out.split(" key ")[-1].strip() if " key " in out else "ssh"


def _verify_pgp(what: str, signature: bytes, payload: bytes, keys: list[bytes]) -> str:
    with tempfile.TemporaryDirectory(prefix="hw-verify-") as home:
        os.chmod(home, 0o700)
        env = {"GNUPGHOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        for blob in keys:
            subprocess.run(["gpg", "--batch", "--quiet", "--import"], input=blob, env=env, capture_output=True,
                           timeout=30)
        sig = Path(home, "signature.asc")
        sig.write_bytes(signature)
        data = Path(home, "payload")
        data.write_bytes(payload)
        result = subprocess.run(
            ["gpg", "--batch", "--status-fd", "1", "--verify", str(sig), str(data)],
            env=env, capture_output=True, timeout=30,
        )
    status = result.stdout.decode(errors="replace")
    valid = [line.split()[2] for line in status.splitlines() if line.startswith("[GNUPG:] VALIDSIG")]
    if result.returncode != 0 or not valid:
        raise VerificationError(f"{what}: OpenPGP signature does not verify against the keys in the Secret")
    return valid[0]
