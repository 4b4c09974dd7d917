"""SSH key pairs for the test SSH server (host keys) and its clients (identities, signing keys).

Made with `cryptography` so tests need no `ssh-keygen` round trips. Unencrypted keys are written in
the OpenSSH format. A passphrase-protected key is written as traditional encrypted PEM
(`BEGIN RSA PRIVATE KEY` with `Proc-Type: 4,ENCRYPTED`): the OpenSSH format's encryption needs the
`bcrypt` package, which is not a dependency, and the PEM form is read by OpenSSH, Go's x/crypto/ssh
and paramiko alike - so it is only offered for RSA and ECDSA keys.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

KeyKind = Literal["ed25519", "rsa", "ecdsa"]
PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SshKey:
    """A key pair on disk: `private_key` (mode 0600) and `<private_key>.pub`."""

    kind: KeyKind
    private_key: Path
    public_key: str  # one OpenSSH line: "ssh-ed25519 AAAA... comment"
    passphrase: str | None = None

    @property
    def public_key_path(self) -> Path:
        return self.private_key.with_name(self.private_key.name + ".pub")

    @property
    def private_key_pem(self) -> bytes:
        """The private key file's bytes, e.g. as a Secret's `identity`."""
        return self.private_key.read_bytes()

    @property
    def key_type(self) -> str:
        """The OpenSSH key type, e.g. `ssh-ed25519`."""
        return self.public_key.split()[0]

    @property
    def blob(self) -> str:
        """The base64 key blob, without type or comment."""
        return self.public_key.split()[1]

    @property
    def fingerprint(self) -> str:
        """`SHA256:...` as `ssh-keygen -l` prints it."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def allowed_signers_line(self, principal: str) -> str:
        """A line of a `gpg.ssh.allowedSignersFile` trusting this key for `principal` (an email)."""
        return f"{principal} {self.key_type} {self.blob}"


def generate_ssh_key(
    directory: Path,
    name: str,
    kind: KeyKind = "ed25519",
    *,
    passphrase: str | None = None,
    comment: str = "headwater-test",
) -> SshKey:
    """Write `directory/name` and `directory/name.pub`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key(kind)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    public_line = f"{public.decode()} {comment}"
    if passphrase is None:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                 serialization.NoEncryption())
    elif kind == "ed25519":
        raise ValueError("passphrase-protected ed25519 keys need the OpenSSH format and bcrypt; use rsa or ecdsa")
    else:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.BestAvailableEncryption(passphrase.encode()))
    path = directory / name
    path.write_bytes(data)
    path.chmod(0o600)
    path.with_name(name + ".pub").write_text(public_line + "\n")
    return SshKey(kind, path, public_line, passphrase)


def _new_key(kind: KeyKind) -> PrivateKey:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown SSH key kind {kind!r}")
