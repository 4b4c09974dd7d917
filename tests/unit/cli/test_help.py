"""`create`, `delete` and `export` help must stay light: no runtime, aiohttp, rich or cryptography import."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from headwater.cli.main import cli

pytestmark = pytest.mark.unit

HEAVY = ("headwater.runtime", "aiohttp", "rich", "cryptography")


@pytest.mark.parametrize("args", [
    ["create", "--help"], ["create", "source", "git", "--help"], ["create", "ks", "--help"],
    ["create", "secret", "git", "--help"], ["delete", "source", "git", "--help"], ["export", "ks", "--help"],
])
def test_help_does_not_import_heavy_modules(args: list[str]) -> None:
    probe = (f"import sys\nfrom headwater.cli.main import cli\ntry:\n    cli.main({args!r}, standalone_mode=False)\n"
             f"except SystemExit:\n    pass\nprint([m for m in sys.modules if m.startswith({HEAVY!r})])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Usage:" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(("args", "flags"), [
    (["create", "source", "git"], ["--url", "--branch", "--tag", "--tag-semver", "--ref-name", "--commit",
                                   "--username", "--password", "--ssh-key-algorithm", "--ssh-rsa-bits",
                                   "--ssh-ecdsa-curve", "--secret-ref", "--proxy-secret-ref", "--provider",
                                   "--ca-file", "--private-key-file", "--recurse-submodules", "--silent",
                                   "--ignore-paths", "--sparse-checkout-paths", "--fetch-timeout", "--interval",
                                   "--export", "--label", "--timeout", "--namespace"]),
    (["create", "kustomization"], ["--source", "--path", "--prune", "--wait", "--health-check",
                                   "--health-check-timeout", "--depends-on", "--service-account",
                                   "--decryption-provider", "--decryption-secret", "--target-namespace",
                                   "--kubeconfig-secret-ref", "--retry-interval", "--interval", "--export", "--label"]),
    (["create", "secret", "git"], ["--url", "--username", "--password", "--ssh-key-algorithm", "--ssh-rsa-bits",
                                   "--ssh-ecdsa-curve", "--ca-crt-file", "--private-key-file", "--bearer-token"]),
    (["create", "secret", "tls"], ["--tls-crt-file", "--tls-key-file", "--ca-crt-file"]),
    (["create", "secret", "helm"], ["--username", "--password", "--tls-crt-file", "--tls-key-file", "--ca-crt-file"]),
    (["create", "source", "helm"], ["--url", "--username", "--password", "--cert-file", "--key-file", "--ca-file",
                                    "--secret-ref", "--oci-provider", "--pass-credentials", "--fetch-timeout",
                                    "--interval", "--export", "--label"]),
    (["create", "source", "chart"], ["--chart", "--chart-version", "--source", "--reconcile-strategy",
                                     "--verify-provider", "--verify-secret-ref", "--verify-subject", "--verify-issuer",
                                     "--fetch-timeout", "--interval", "--export", "--label"]),
    (["create", "helmrelease"], ["--release-name", "--source", "--chart", "--chart-version", "--depends-on",
                                 "--target-namespace", "--storage-namespace", "--create-target-namespace",
                                 "--service-account", "--reconcile-strategy", "--chart-interval", "--values",
                                 "--values-from", "--crds", "--kubeconfig-secret-ref", "--chart-ref", "--interval",
                                 "--export", "--label"]),
    (["get", "helmreleases"], ["--show-source", "--all-namespaces", "--no-header", "--watch", "--status-selector",
                               "--label-selector"]),
    (["get", "kustomizations"], ["--show-source"]),
    (["get", "sources", "helm"], ["--all-namespaces", "--watch", "--status-selector"]),
    (["reconcile", "helmrelease"], ["--with-source", "--force", "--reset"]),
    (["reconcile", "source", "chart"], ["--with-source"]),
    (["suspend", "helmrelease"], ["--all"]),
    (["resume", "source", "chart"], ["--all", "--wait"]),
    (["delete", "ks"], ["--silent"]),
    (["delete", "helmrelease"], ["--silent"]),
    (["export", "source", "helm"], ["--all", "--with-credentials"]),
    (["debug", "helmrelease"], ["--show-status", "--show-values", "--show-history"]),
    (["debug", "hr"], ["--show-status"]),
    (["stats"], ["--all-namespaces"]),
    (["export", "source", "git"], ["--all", "--with-credentials"]),
])
def test_every_flux_flag_is_accepted(args: list[str], flags: list[str]) -> None:
    help_text = CliRunner().invoke(cli, [*args, "--help"]).output
    for flag in flags:
        assert flag in help_text, flag
