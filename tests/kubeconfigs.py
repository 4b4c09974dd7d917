"""Kubeconfig files for CLI failure-path tests."""

from __future__ import annotations

from pathlib import Path

UNREACHABLE_SERVER = "https://127.0.0.1:1"


def unreachable_kubeconfig(directory: Path) -> Path:
    """A valid kubeconfig whose API server address nothing listens on (port 1 on loopback)."""
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: '{UNREACHABLE_SERVER}', insecure-skip-tls-verify: true}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    return kubeconfig
