"""Charts in an OCI registry (a HelmRepository of `type: oci`), pulled over the distribution API.

`oci://host[:port]/path` plus the chart name is the registry repository; tags are chart versions, with
`+` written as `_` (OCI tags cannot hold `+`, Helm's convention). A version that is itself a SemVer version
is used as the tag without listing tags (Flux's shortcut); otherwise the tag list is read (paged, at most
`max_tag_pages` pages) and the highest tag the range allows is taken. The chart is the manifest's layer
of media type `application/vnd.cncf.helm.chart.content.v1.tar+gzip`; its size is checked against the
chart bound before it is fetched and its digest after. `manifest` and `blob` are the two reads underneath,
public for signature verification (`headwater.source.helm.verification`), which needs the manifest's digest
as received and the signature image next to it; `pull_with_digest` pulls exactly a verified manifest.

Authentication answers the registry's challenge: `Basic` with the repository Secret's credentials, or
`Bearer` with a token fetched from the challenge's realm (sending the credentials there, when there are
any). Credentials come from `username`/`password` or a `.dockerconfigjson` entry for the host.
`insecure: true` means plain HTTP, as Flux's `WithInsecureHTTP`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import aiohttp

from headwater.source import semver
from headwater.source.helm.getter import Credentials, FetchError
from headwater.source.helm.limits import DEFAULT_LIMITS, HelmLimits

__all__ = ["CHART_LAYER", "NotFoundError", "Registry", "TagNotFound", "chart_version", "docker_config_credentials",
           "registry_host", "resolve_tag"]

CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_CHUNK = 256 * 1024


def registry_host(url: str) -> str:
    return urlsplit(url).netloc


def docker_config_credentials(config: bytes, host: str) -> tuple[str, str] | None:
    """(username, password) for `host` in a `.dockerconfigjson`, or None."""
    try:
        auths = (json.loads(config) or {}).get("auths") or {}
    except (ValueError, AttributeError) as err:
        raise ValueError("'.dockerconfigjson' is not a Docker config JSON document") from err
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        entry_host = urlsplit(key if "://" in key else f"//{key}").netloc
        if entry_host != host:
            continue
        if entry.get("username") and entry.get("password"):
            return str(entry["username"]), str(entry["password"])
        if entry.get("auth"):
            user, _, password = base64.b64decode(str(entry["auth"])).decode("utf-8", "replace").partition(":")
            return user, password
    return None


def resolve_tag(tags: list[str], wanted: str) -> str:
    """The highest tag (as a version, `_` read as `+`) that `wanted` allows."""
    constraint = semver.parse_constraint(wanted or "*")
    matched: list[tuple[semver.Version, str]] = []
    for tag in tags:
        try:
            version = semver.parse_flux_version(tag.replace("_", "+"))
        except semver.SemverError:
            continue
        if constraint.check(version):
            matched.append((version, tag.replace("_", "+")))
    if not matched:
        raise LookupError(f"could not locate a version matching provided version string {wanted}")
    return max(matched, key=lambda item: item[0])[1]


class NotFoundError(FetchError):
    """The registry answered 404: no such manifest, tag or blob."""


class TagNotFound(LookupError):
    """No tag of the chart can be used for the requested version; the message says why."""


async def chart_version(registry: Registry, chart: str, wanted: str) -> str:
    """The version to pull: `wanted` itself when it is a version (Flux's shortcut), else the best tag."""
    try:
        semver.parse_flux_version(wanted)
        return wanted
    except semver.SemverError:
        pass
    try:
        tags = await registry.tags(chart)
    except FetchError as err:
        raise TagNotFound(f"could not get tags for \"{chart}\": {err}") from err
    if not tags:
        raise TagNotFound(f"unable to locate any tags in provided repository: {chart}")
    try:
        return resolve_tag(tags, wanted)
    except (LookupError, semver.SemverError) as err:
        raise TagNotFound(str(err)) from err


@dataclass
class Registry:
    """One registry repository prefix (`oci://host/path`) with its credentials."""

    url: str
    credentials: Credentials
    insecure: bool = False
    timeout: float = 60.0
    limits: HelmLimits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.host = parts.netloc
        self.prefix = parts.path.strip("/")
        self.base = f"{'http' if self.insecure else 'https'}://{self.host}"
        self._token: str | None = None

    def repository(self, chart: str) -> str:
        return f"{self.prefix}/{chart}" if self.prefix else chart

    def reference(self, chart: str, version: str) -> str:
        return f"oci://{self.host}/{self.repository(chart)}:{version}"

    # -- requests -------------------------------------------------------------------------------------------

    async def _get(self, session: aiohttp.ClientSession, url: str, *, accept: str | None = None,
                   max_size: int, what: str) -> tuple[bytes, Mapping[str, str]]:
        headers = {"Accept": accept} if accept else {}
        for attempt in range(2):
            if self._token:
                headers["Authorization"] = self._token
            async with session.get(url, headers=headers) as response:
                if response.status == 401 and attempt == 0:
                    self._token = await self._authorize(session, response.headers.get("WWW-Authenticate", ""))
                    continue
                if response.status == 404:
                    raise NotFoundError(f"{what}: 404 {response.reason} from {self.base}")
                if response.status != 200:
                    raise FetchError(f"{what}: {response.status} {response.reason} from {self.base}")
                if (response.content_length or 0) > max_size:
                    raise FetchError(f"{what} is {response.content_length} bytes, larger than the maximum of "
                                     f"{max_size} bytes")
                body = bytearray()
                async for chunk in response.content.iter_chunked(_CHUNK):
                    body += chunk
                    if len(body) > max_size:
                        raise FetchError(f"{what} is larger than the maximum of {max_size} bytes")
                return bytes(body), response.headers
        raise FetchError(f"{what}: the registry refused the credentials (401 Unauthorized)")

    async def _authorize(self, session: aiohttp.ClientSession, challenge: str) -> str:
        scheme = challenge.split(" ", 1)[0].lower()
        creds = self.credentials
        if scheme == "basic":
            if not creds.has_basic:
                raise FetchError(f"{self.host} requires authentication and the repository has no credentials")
            return creds.basic_header()
        if scheme != "bearer":
            raise FetchError(f"{self.host} asks for an unsupported authentication scheme {scheme!r}")
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.pop("realm", "")
        if urlsplit(realm).scheme not in ("http", "https"):
            raise FetchError(f"{self.host} gave an invalid token realm")
        headers = {"Authorization": creds.basic_header()} if creds.has_basic else {}
        async with session.get(f"{realm}?{urlencode(params)}", headers=headers) as response:
            if response.status != 200:
                raise FetchError(f"token request to {urlsplit(realm).netloc} failed: {response.status}")
            body = await response.content.read(1 << 20)
        token: object = None
        try:
            document = json.loads(body)
            token = document.get("token") or document.get("access_token")
        except (ValueError, AttributeError):
            pass
        if not isinstance(token, str) or not token:
            raise FetchError(f"token request to {urlsplit(realm).netloc} returned no token")
        return f"Bearer {token}"

    def _session(self) -> aiohttp.ClientSession:
        context = self.credentials.ssl_context()
        connector = aiohttp.TCPConnector(ssl=context) if context is not None else aiohttp.TCPConnector()
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout))

    # -- operations -----------------------------------------------------------------------------------------

    async def tags(self, chart: str) -> list[str]:
        url = f"{self.base}/v2/{quote(self.repository(chart))}/tags/list"
        found: list[str] = []
        async with self._session() as session:
            for _ in range(self.limits.max_tag_pages):
                body, headers = await self._get(session, url, max_size=self.limits.max_manifest_size,
                                                what=f"tag list of {self.repository(chart)}")
                try:
                    tags = json.loads(body).get("tags") or []
                except (ValueError, AttributeError) as err:
                    raise FetchError(f"tag list of {self.repository(chart)} is not JSON") from err
                found.extend(str(tag) for tag in tags if isinstance(tag, str))
                link = _NEXT.search(headers.get("Link", ""))
                if link is None:
                    return found
                url = urljoin(self.base, link.group(1))
        raise FetchError(f"tag list of {self.repository(chart)} has more than {self.limits.max_tag_pages} pages")

    async def manifest(self, chart: str, reference: str, *, label: str) -> tuple[bytes, str]:
        """The manifest `reference` (a tag or a digest) of the chart's repository, and its sha256 digest.

        The digest is computed from the bytes received, never taken from a header: it is what a signature
        must name. A digest reference is checked against the body."""
        async with self._session() as session:
            body, _ = await self._get(session, self._url(chart, "manifests", reference), accept=MANIFEST_TYPES,
                                      max_size=self.limits.max_manifest_size, what=f"manifest of {label}")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise FetchError(f"manifest of {label} does not match its digest {reference}")
        return body, digest

    async def blob(self, chart: str, digest: str, *, max_size: int, what: str) -> bytes:
        """The blob `digest` (sha256 only) of the chart's repository, size-bounded and digest-checked."""
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise FetchError(f"{what} has an unsupported digest {digest!r}")
        async with self._session() as session:
            data, _ = await self._get(session, self._url(chart, "blobs", digest), max_size=max_size, what=what)
        if hashlib.sha256(data).hexdigest() != expected:
            raise FetchError(f"{what} does not match its digest {digest}")
        return data

    def _url(self, chart: str, kind: str, reference: str) -> str:
        return f"{self.base}/v2/{quote(self.repository(chart))}/{kind}/{quote(reference)}"

    async def pull(self, chart: str, version: str) -> bytes:
        """The chart archive tagged `version` (`+` sent as `_`), digest-checked."""
        data, _ = await self.pull_with_digest(chart, version)
        return data

    async def pull_with_digest(self, chart: str, version: str, *, digest: str | None = None) -> tuple[bytes, str]:
        """The chart archive and its manifest's digest; with `digest`, that manifest (a verified one) and no
        other, so the tag cannot move between verification and pull."""
        label = self.reference(chart, version)
        body, manifest_digest = await self.manifest(chart, digest or version.replace("+", "_"), label=label)
        layer = _chart_layer(body, label)
        size = layer.get("size")
        if not isinstance(size, int) or size < 0 or size > self.limits.max_chart_size:
            raise FetchError(f"chart layer of {label} is {size} bytes, larger than the maximum chart size of "
                             f"{self.limits.max_chart_size} bytes")
        data = await self.blob(chart, str(layer.get("digest") or ""), max_size=self.limits.max_chart_size,
                               what=f"chart layer of {label}")
        return data, manifest_digest


def _chart_layer(body: bytes, label: str) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
        layers = manifest.get("layers") or []
    except (ValueError, AttributeError) as err:
        raise FetchError(f"manifest of {label} is not JSON") from err
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, dict) and layer.get("mediaType") == CHART_LAYER:
            return layer
    raise FetchError(f"manifest of {label} has no Helm chart layer ({CHART_LAYER})")
