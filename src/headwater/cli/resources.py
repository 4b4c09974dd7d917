"""Resource names resolved as kubectl resolves them: for any kind the cluster serves, not only Flux's.

`trace deploy/frontend`, `trace cm settings`, `trace frontend --kind=deployment --api-version=apps/v1`
and `trace x.v1.apps/frontend` must find the same kinds kubectl finds: a name matches a kind when it
is, case-insensitively, the kind, its singular or plural resource name, or one of its short names,
optionally qualified kubectl's way (`<name>.<group>`, `<name>.<version>.<group>`).

Flux kinds come from the kind registry (`headwater.api.kinds.resolve`, no round trip); every other
kind from the cluster's discovery documents (`/api/v1`, `/apis/<group>/<version>`), at each group's
preferred version unless the name or `--api-version` says which. A group whose API service does not
answer is skipped, as kubectl skips it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.cli.common import CliError

if TYPE_CHECKING:
    from headwater.runtime.kube import KubeClient


@dataclass(frozen=True)
class ServedKind:
    """A kind the cluster serves, with the names kubectl accepts for it."""

    api_version: str
    kind: str
    plural: str
    singular: str = ""
    short_names: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def answers_to(self, text: str) -> bool:
        wanted = text.lower()
        return wanted in (self.kind.lower(), self.plural.lower(), self.singular.lower()) or wanted in self.short_names


async def discover(client: KubeClient, api_version: str) -> list[ServedKind]:
    """The kinds served at `api_version` (`v1`, `apps/v1`); none when the apiserver says it is not served or
    its API service fails (an unreachable cluster is still an error: ClusterUnreachable)."""
    from headwater.runtime.kube import ApiError

    try:
        listing = await client.request("GET", "/api/v1" if api_version == "v1" else f"/apis/{api_version}")
    except ApiError:
        return []
    return [ServedKind(api_version, str(item["kind"]), str(item["name"]), str(item.get("singularName") or ""),
                       tuple(name.lower() for name in item.get("shortNames") or ()))
            for item in listing.get("resources") or [] if "/" not in str(item.get("name", ""))]


async def preferred_versions(client: KubeClient) -> list[str]:
    """`v1` (the core group) and every group's preferred version."""
    groups = (await client.request("GET", "/apis")).get("groups") or []
    return ["v1"] + [str(group["preferredVersion"]["groupVersion"]) for group in groups
                     if (group.get("preferredVersion") or {}).get("groupVersion")]


async def _first_answering(client: KubeClient, versions: list[str], name: str) -> ServedKind | None:
    for kinds in await asyncio.gather(*(discover(client, version) for version in versions)):
        for served in kinds:
            if served.answers_to(name):
                return served
    return None


async def resolve_resource(client: KubeClient, text: str) -> ServedKind:
    """The kind a kubectl resource type names (`Deployment`, `deployments`, `deploy`, `deployments.apps`,
    `deploy.v1.apps`, `ks`); CliError in kubectl's words when nothing answers."""
    from headwater.api.kinds import resolve

    flux = resolve(text)
    if flux is not None:
        return ServedKind(flux.api_version, flux.kind, flux.plural, flux.singular, flux.short_names)
    name, _, qualifier = text.lower().partition(".")
    found = None
    if qualifier:
        version, _, group = qualifier.partition(".")
        if group:  # name.version.group
            found = await _first_answering(client, [f"{group}/{version}"], name)
        if found is None:  # name.group
            found = await _first_answering(client, [v for v in await preferred_versions(client)
                                                    if v.rpartition("/")[0] == qualifier], name)
    else:
        found = await _first_answering(client, await preferred_versions(client), name)
    if found is None:
        raise CliError(f'the server doesn\'t have a resource type "{text}"')
    return found


async def resolve_kind(client: KubeClient, text: str, api_version: str) -> ServedKind:
    """The kind `--kind text --api-version api_version` means, its name matched as kubectl matches
    (`deployment`, `Deployment`, `deployments`, `deploy` in apps/v1); CliError when not served there."""
    from headwater.api.kinds import resolve

    flux = resolve(text)
    if flux is not None and api_version in flux.api_versions():
        return ServedKind(api_version, flux.kind, flux.plural, flux.singular, flux.short_names)
    found = await _first_answering(client, [api_version], text)
    if found is None:
        raise CliError(f"the cluster serves no kind {text!r} in {api_version!r}")
    return found
