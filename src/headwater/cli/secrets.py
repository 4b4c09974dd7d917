"""The credential material `create secret …` and `create source git` put into Secrets.

Why its own module: key generation, private-key loading and host-key scanning are the only parts of
the `create` commands that touch cryptography or the network outside Kubernetes, and `bootstrap`
needs exactly the same deploy keys. Keys are made like flux's fluxcd/pkg/ssh generators: the private key
as PKCS#8 PEM (`PRIVATE KEY`), the public key in authorized_keys form; `known_hosts` comes from the real
`ssh-keyscan` against the Git URL's host (port 22 unless the URL names one).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from headwater.manifests import GenerateError

KEY_ALGORITHMS: Final = ("rsa", "ecdsa", "ed25519")
ECDSA_CURVES: Final = ("p256", "p384", "p521")
DEFAULT_KEY_ALGORITHM: Final = "ecdsa"
DEFAULT_RSA_BITS: Final = 2048
DEFAULT_ECDSA_CURVE: Final = "p384"
KEYSCAN_TIMEOUT: Final = 30


@dataclass(frozen=True)
class KeyPair:
    private_key: str  # PEM (generated) or the file's text (loaded)
    public_key: str  # authorized_keys line with a trailing newline, like ssh.MarshalAuthorizedKey

    def __repr__(self) -> str:  # never show the private key in tracebacks or logs
        return f"KeyPair(public_key={self.public_key.strip()!r})"


def check_key_options(algorithm: str, rsa_bits: int, curve: str) -> None:
    if algorithm not in KEY_ALGORITHMS:
        raise GenerateError(f"unsupported --ssh-key-algorithm '{algorithm}', must be one of: "
                            + ", ".join(KEY_ALGORITHMS))
    if rsa_bits < 1024 or rsa_bits > 16384 or rsa_bits % 8:
        raise GenerateError(f"invalid --ssh-rsa-bits {rsa_bits}: must be a multiple of 8 between 1024 and 16384")
    if curve not in ECDSA_CURVES:
        raise GenerateError(f"unsupported --ssh-ecdsa-curve '{curve}', must be one of: " + ", ".join(ECDSA_CURVES))


def generate_keypair(algorithm: str = DEFAULT_KEY_ALGORITHM, rsa_bits: int = DEFAULT_RSA_BITS,
                     curve: str = DEFAULT_ECDSA_CURVE) -> KeyPair:
    """A new SSH key pair of the given algorithm (flux's defaults: ECDSA P-384)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    check_key_options(algorithm, rsa_bits, curve)
    key: PrivateKeyTypes
    if algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        curves = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}
        key = ec.generate_private_key(curves[curve])
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return KeyPair(private, public.decode() + "\n")


def load_keypair(path: str, password: str | None = None) -> KeyPair:
    """The key pair of a private key file (OpenSSH or PEM), decrypted with `password` if it has one."""
    from cryptography.hazmat.primitives import serialization

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise GenerateError(f"failed to open private key file {path}: {err.strerror or err}") from err
    secret = password.encode() if password else None
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, secret)
        else:
            key = serialization.load_pem_private_key(data, secret)  # type: ignore[assignment]
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH)
    except (ValueError, TypeError, AttributeError, NotImplementedError) as err:
        hint = "" if password else " (if it is encrypted, give its passphrase with --password)"
        raise GenerateError(f"failed to parse private key file {path}{hint}: {err}") from err
    return KeyPair(data.decode(), public.decode() + "\n")


def split_host(host: str) -> tuple[str, int]:
    """A URL's `host[:port]` (IPv6 in brackets) as (hostname, port), port 22 by default."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.lstrip(":")
    else:
        name, _, port = host.partition(":")
    if port and not port.isdigit():
        raise GenerateError(f"invalid port in SSH host '{host}'")
    return name, int(port) if port else 22


def scan_host_keys(host: str, timeout: int = KEYSCAN_TIMEOUT) -> str:
    """The known_hosts lines of an SSH server (`host` or `host:port`), as ssh-keyscan prints them."""
    name, port = split_host(host.rpartition("@")[2])
    keyscan = shutil.which("ssh-keyscan")
    if keyscan is None:
        raise GenerateError("ssh-keyscan not found: install openssh-client to collect the SSH host key")
    try:
        done = subprocess.run([keyscan, "-p", str(port), "-T", str(timeout), name], capture_output=True,
                              text=True, timeout=timeout + 5, check=False)
    except subprocess.TimeoutExpired as err:
        raise GenerateError(f"SSH key scan for host {name}:{port} failed: no answer in {timeout}s") from err
    lines = [line for line in done.stdout.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        detail = " ".join(done.stderr.split()) or "no host key received"
        raise GenerateError(f"SSH key scan for host {name}:{port} failed: {detail}")
    return "\n".join(sorted(lines))


def read_file(path: str, what: str) -> str:
    """A PEM or other text file given by a flag; GenerateError naming the flag's purpose otherwise."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise GenerateError(f"unable to read {what} {path}: {reason}") from err


@dataclass(frozen=True)
class GitCredentials:
    """The stringData of a Git auth Secret plus what the user is shown (public material only)."""

    data: dict[str, str]
    deploy_key: str | None = None
    known_hosts: str | None = None


def git_credentials(url: str, *, username: str | None = None, password: str | None = None,
                    bearer_token: str | None = None, ca_file: str | None = None,
                    private_key_file: str | None = None, algorithm: str = DEFAULT_KEY_ALGORITHM,
                    rsa_bits: int = DEFAULT_RSA_BITS, curve: str = DEFAULT_ECDSA_CURVE,
                    required: bool = False) -> GitCredentials:
    """Credentials for a Git URL as flux makes them: SSH (a key pair, given or generated, and the
    server's host keys) or HTTP/S (basic auth or a bearer token, and a CA). `required` (create secret
    git) insists on HTTP/S credentials; create source git makes no Secret when none are given."""
    from urllib.parse import urlsplit

    from headwater.manifests import check_git_url, git_secret_data

    scheme = check_git_url(url)
    if scheme == "ssh":
        if ca_file:
            raise GenerateError("specifying a CA file is not supported for Git over SSH")
        if bearer_token:
            raise GenerateError("a bearer token is not supported for Git over SSH")
        check_key_options(algorithm, rsa_bits, curve)
        keypair = load_keypair(private_key_file, password) if private_key_file else generate_keypair(
            algorithm, rsa_bits, curve)
        known_hosts = scan_host_keys(urlsplit(url).netloc)
        data = git_secret_data(identity=keypair.private_key, identity_pub=keypair.public_key,
                               known_hosts=known_hosts, password=password if private_key_file else None)
        return GitCredentials(data, keypair.public_key.strip(), known_hosts)
    if private_key_file:
        raise GenerateError("--private-key-file is only used for Git over SSH (ssh:// URLs)")
    if bool(username) != bool(password):
        raise GenerateError("basic authentication needs both --username and --password")
    if username and bearer_token:
        raise GenerateError("user credentials and bearer token cannot be used together")
    if required and not (username or bearer_token):
        raise GenerateError("for Git over HTTP/S the username and password, or a bearer token is required")
    if ca_file and scheme != "https":
        raise GenerateError("a CA file is only used for Git over HTTPS (https:// URLs)")
    ca_crt = read_file(ca_file, "TLS CA file") if ca_file else None
    return GitCredentials(git_secret_data(username=username, password=password, bearer_token=bearer_token,
                                          ca_crt=ca_crt))
