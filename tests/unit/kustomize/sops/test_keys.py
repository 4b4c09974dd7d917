"""Keys from a decryption Secret, and the errors when none of them fits (recipients named, no key material)."""

from __future__ import annotations

import pyrage
import pytest
import yaml

from headwater.kustomize.sops import KeyImportError, KeySet, NoMatchingKeyError, decrypt_document
from headwater.kustomize.sops.metadata import parse_metadata
from tests.unit.kustomize.sops.conftest import Sops

pytestmark = pytest.mark.unit

PLAIN = "stringData:\n  password: top-secret\n"


def test_secret_entries_are_selected_by_name_like_flux(sops: Sops) -> None:
    keys = KeySet.from_secret_data({
        "identity.agekey": f"# created: 2024-01-01\n# public key: {sops.age_recipient}\n{sops.age_identity}\n\n"
                           .encode(),
        "team.asc": sops.pgp_armored,
        "sops.aws-kms": b"aws_access_key_id: x",
        "README.md": b"not a key",
        "agekey": b"ignored: no extension",
    })
    assert [key.recipient for key in keys.age] == [sops.age_recipient]
    assert [key.fingerprint for key in keys.pgp] == [sops.pgp_fingerprint]
    assert keys.kms_entries == ("sops.aws-kms",)
    shown = repr(keys)
    assert sops.age_recipient in shown
    assert sops.pgp_fingerprint in shown
    assert "AGE-SECRET-KEY" not in shown
    assert "PRIVATE" not in shown


def test_several_identities_and_keys_per_entry(sops: Sops) -> None:
    keys = KeySet.from_secret_data({
        "two.agekey": f"{sops.other_age_identity}\n{sops.age_identity}\n".encode(),
        "both.asc": sops.pgp_armored + sops.protected_pgp_armored,
    })
    assert {key.recipient for key in keys.age} == {sops.age_recipient, sops.other_age_recipient}
    assert {key.fingerprint for key in keys.pgp} == {sops.pgp_fingerprint, sops.protected_pgp_fingerprint}
    encrypted = sops.encrypt(PLAIN, "yaml", "--pgp", sops.pgp_fingerprint)
    assert yaml.safe_load(decrypt_document(encrypted, "yaml", keys)) == {"stringData": {"password": "top-secret"}}


@pytest.mark.parametrize(("data", "message"), [
    ({"bad.agekey": b"AGE-SECRET-KEY-1NOTAVALIDKEY\n"}, "line 1: malformed age identity"),
    ({"bad.agekey": b"# only comments\n"}, "no age identities found"),
    ({"bad.agekey": b"ssh-ed25519 AAAA...\n"}, "not an age X25519 identity"),
    ({"bad.asc": b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\ngarbage\n-----END PGP PRIVATE KEY BLOCK-----\n"},
     "not an OpenPGP key"),
], ids=["malformed-age", "empty-age", "ssh-age", "garbage-pgp"])
def test_unusable_entries_are_named_without_content(data: dict[str, bytes], message: str) -> None:
    with pytest.raises(KeyImportError) as caught:
        KeySet.from_secret_data(data)
    assert message in str(caught.value)
    assert "bad." in str(caught.value)
    assert "NOTAVALIDKEY" not in str(caught.value)
    assert "garbage" not in str(caught.value)


def test_public_only_certificate_is_not_a_secret_key(sops: Sops) -> None:
    import subprocess

    public = subprocess.run(["gpg", "--batch", "--homedir", str(sops.gnupghome), "--export", "--armor",
                             sops.pgp_fingerprint], capture_output=True, check=True).stdout
    with pytest.raises(KeyImportError, match="no OpenPGP secret keys"):
        KeySet.from_secret_data({"public.asc": public})


def test_wrong_age_key_names_the_recipients(sops: Sops) -> None:
    encrypted = sops.encrypt(PLAIN, "yaml", "--age", sops.age_recipient, "--pgp", sops.pgp_fingerprint)
    wrong = KeySet.from_secret_data({"wrong.agekey": sops.other_age_identity.encode()})
    with pytest.raises(NoMatchingKeyError) as caught:
        decrypt_document(encrypted, "yaml", wrong, source="clusters/prod/secret.yaml")
    message = str(caught.value)
    assert message.startswith("clusters/prod/secret.yaml: cannot get the sops data key")
    assert f"age recipient {sops.age_recipient}" in message
    assert f"PGP fingerprint {sops.pgp_fingerprint}" in message
    assert "tried 1 age identity and 0 OpenPGP keys" in message
    assert sops.other_age_identity not in message
    assert "AGE-SECRET-KEY" not in message
    assert "top-secret" not in message


def test_no_keys_at_all(sops: Sops) -> None:
    encrypted = sops.encrypt(PLAIN, "yaml")
    with pytest.raises(NoMatchingKeyError, match="tried 0 age identities and 0 OpenPGP keys"):
        decrypt_document(encrypted, "yaml", KeySet())


def test_passphrase_protected_key_is_explained(sops: Sops) -> None:
    encrypted = sops.encrypt(PLAIN, "yaml", "--pgp", sops.protected_pgp_fingerprint)
    keys = KeySet.from_secret_data({"protected.asc": sops.protected_pgp_armored})
    with pytest.raises(NoMatchingKeyError) as caught:
        decrypt_document(encrypted, "yaml", keys)
    assert f"OpenPGP key {sops.protected_pgp_fingerprint} is passphrase-protected" in str(caught.value)


def test_shamir_below_threshold_says_how_many_groups(sops: Sops) -> None:
    third = pyrage.x25519.Identity.generate()
    config = sops.root / "shamir-keys.yaml"
    config.write_text("creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
                      f"      - age: [{sops.age_recipient}]\n      - pgp: [{sops.pgp_fingerprint}]\n"
                      f"      - age: [{third.to_public()}]\n")
    encrypted = sops.encrypt(PLAIN, "yaml", config=config)
    with pytest.raises(NoMatchingKeyError, match="1 of 3 key groups could be opened, 2 are needed"):
        decrypt_document(encrypted, "yaml", sops.keys())
    both = sops.keys().merged(KeySet.from_secret_data({"k.asc": sops.pgp_armored}))
    assert yaml.safe_load(decrypt_document(encrypted, "yaml", both)) == {"stringData": {"password": "top-secret"}}


def test_kms_recipients_are_reported_as_unsupported() -> None:
    metadata = parse_metadata({
        "kms": [{"arn": "arn:aws:kms:eu-west-1:111122223333:key/abc", "enc": "AQICAHh...", "created_at":
                 "2024-01-01T00:00:00Z", "aws_profile": ""}],
        "gcp_kms": [{"resource_id": "projects/p/locations/global/keyRings/r/cryptoKeys/k", "enc": "CiQA",
                     "created_at": "2024-01-01T00:00:00Z"}],
        "lastmodified": "2024-01-01T00:00:00Z",
        "mac": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
        "version": "3.11.0",
    }, "kms.yaml")
    with pytest.raises(NoMatchingKeyError) as caught:
        KeySet().decrypt_data_key(metadata, "kms.yaml")
    message = str(caught.value)
    assert "AWS KMS key arn:aws:kms:eu-west-1:111122223333:key/abc" in message
    assert "AWS KMS key, GCP KMS key recipients are not supported by this decryptor" in message
