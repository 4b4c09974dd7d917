"""`spec.verify` of a HelmChart: the trusted keys from its Secret, and the check of a chart's manifest.

Flux verifies only charts pulled from an OCI HelmRepository. The verification is set up before anything is
pulled: a provider or mode headwater does not implement (notation, cosign keyless) and a Secret without
usable keys are refused as configuration errors (`SourceVerified=False`, `VerificationError`, with
Flux's "failed to verify the signature using provider '…'" prefix), never skipped. A chart from an HTTP
repository is refused the same way rather than passed unverified: a stated requirement that cannot be
met must not look like it was.

The check itself resolves the tag to a manifest digest, finds a cosign signature of that digest by a
trusted key (`headwater.source.verify`), and the chart is then pulled by that digest, so a tag moved
between the check and the pull cannot slip an unsigned chart in. A failure is a `ChartVerificationError`
build error with Flux's message (`failed to verify oci://…:<version>: no matching signatures`).
"""

from __future__ import annotations

from dataclasses import dataclass

from headwater.api.models.source import HelmChartVerification
from headwater.runtime import conditions as cond
from headwater.runtime.kube import KubeClient, NotFound
from headwater.runtime.result import ReconcileError
from headwater.source.git.auth import GitAuthError, secret_values
from headwater.source.helm import build as b
from headwater.source.helm.getter import FetchError
from headwater.source.helm.oci import NotFoundError, Registry
from headwater.source.verify.cosign import UNSIGNED, InvalidKeys, PublicKey, load_public_keys
from headwater.source.verify.signatures import verify_digest

__all__ = ["ChartVerifier", "chart_verifier", "verification_failed"]


@dataclass(frozen=True)
class ChartVerifier:
    """The trusted cosign keys of one HelmChart (never shown: `repr` names only the Secret entries)."""

    provider: str
    keys: list[tuple[str, PublicKey]]

    def __repr__(self) -> str:
        return f"ChartVerifier({self.provider}, keys={[name for name, _ in self.keys]})"

    async def verify(self, registry: Registry, chart: str, version: str) -> str:
        """The digest of the verified manifest of `chart` at `version`; BuildError when it is not signed."""
        where = registry.reference(chart, version)
        try:
            _, digest = await registry.manifest(chart, version.replace("+", "_"), label=where)

            async def manifest(tag: str) -> bytes:
                body, _ = await registry.manifest(chart, tag, label=f"signature {tag} of {where}")
                return body

            async def blob(digest: str, max_size: int) -> bytes:
                return await registry.blob(chart, digest, max_size=max_size, what=f"signature payload of {where}")

            why = await verify_digest(digest, self.keys, manifest, blob, lambda err: isinstance(err, NotFoundError))
        except (FetchError, ValueError) as err:
            raise b.BuildError(b.CHART_VERIFICATION, f"failed to verify {where}: {err}") from err
        if why == UNSIGNED:
            raise b.BuildError(b.CHART_VERIFICATION, f"failed to verify {where}: no matching signatures")
        if why is not None:
            raise b.BuildError(b.CHART_VERIFICATION, f"failed to verify {where}: no matching signatures: {why}")
        return digest


def verification_failed(provider: str, detail: str) -> ReconcileError:
    return ReconcileError(cond.VERIFICATION_ERROR_REASON,
                          f"failed to verify the signature using provider '{provider}': {detail}")


async def chart_verifier(kube: KubeClient, verify: HelmChartVerification | None, namespace: str, *,
                         oci: bool) -> ChartVerifier | None:
    """The verifier `verify` asks for (None without `spec.verify`); ReconcileError when it cannot be made."""
    if verify is None:
        return None
    provider = verify.provider or "cosign"
    if provider == "cosign" and verify.secret_ref is None:
        raise verification_failed("cosign keyless", "keyless verification (no secretRef, matchOIDCIdentity) is "
                                  "not supported by headwater; give public keys in spec.verify.secretRef")
    if provider != "cosign":
        raise verification_failed(provider, f"the '{provider}' provider is not supported by headwater; only "
                                  "'cosign' with public keys in spec.verify.secretRef is")
    if not oci:
        raise verification_failed(provider, "signature verification is only supported for charts from an OCI "
                                  "HelmRepository (type: oci)")
    assert verify.secret_ref is not None
    name = verify.secret_ref.name
    try:
        secret = await kube.get("v1", "Secret", name, namespace)
    except NotFound as err:
        raise verification_failed(provider, f"secrets \"{name}\" not found") from err
    try:
        keys = load_public_keys(secret_values(secret), f"{namespace}/{name}")
    except (InvalidKeys, GitAuthError) as err:
        raise verification_failed(provider, str(err)) from err
    return ChartVerifier(provider, keys)
