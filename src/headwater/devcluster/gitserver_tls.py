"""A throwaway CA and the certificates of the HTTPS Git server and of its clients.

The source controller must trust a custom CA given as `ca.crt` in a Secret and may present a client
certificate (`tls.crt`/`tls.key`); testing both needs a server whose CA is not in the system store and
which can require a client certificate signed by that CA. Keys are ECDSA P-256 (generation takes
milliseconds) written as PKCS#8 PEM, which OpenSSL, GnuTLS (Debian's git), Go and Python all read.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = timedelta(days=30)


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA's certificate and key, both as PEM files."""

    cert: Path
    key: Path

    def issue(self, directory: Path, name: str, *, server: bool) -> KeyPair:
        """A leaf certificate: a server one for 127.0.0.1/localhost, or a client one (CN=name)."""
        ca_cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        ca_key = serialization.load_pem_private_key(self.key.read_bytes(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC) - timedelta(minutes=5)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if server:
            sans: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
        _write_key(pair.key, key)
        pair.cert.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        return pair


@dataclass(frozen=True)
class KeyPair:
    """A leaf certificate and its private key, as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class TlsMaterial:
    """Everything an HTTPS test server and its clients need; all files are in one directory."""

    ca: CertificateAuthority
    server: KeyPair
    client: KeyPair

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, e.g. as a Secret's `ca.crt`."""
        return self.ca.cert.read_bytes()


def generate_ca(directory: Path, name: str = "headwater-git-ca") -> CertificateAuthority:
    """A new self-signed CA in `directory` (`<name>.crt`, `<name>.key`)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca = CertificateAuthority(directory / f"{name}.crt", directory / f"{name}.key")
    _write_key(ca.key, key)
    ca.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca


def generate_tls(directory: Path) -> TlsMaterial:
    """A CA (`ca.crt`), a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    ca = generate_ca(directory, "ca")
    return TlsMaterial(ca, ca.issue(directory, "server", server=True), ca.issue(directory, "client", server=False))


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=not ca,
        encipher_only=False, decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    path.write_bytes(data)
    path.chmod(0o600)
