"""Create-or-update and wait-for-Ready, the cluster half of every `create` command.

flux upserts the generated object (create, or replace labels and spec of the existing one) and then
polls it the way kstatus judges custom resources: nothing counts until `status.observedGeneration`
matches `metadata.generation`; Ready=True is success; Stalled=True, or Ready=False while not
Reconciling, is a failure reported with the object's own message; anything else keeps waiting until
`--timeout`, and the timeout names the object and its last Ready message. We upsert with server-side
apply (forced, one field manager) so fields other managers own, such as annotations set by
`reconcile`, survive while ours are replaced.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from headwater.cli.common import CliError, condition, format_seconds, get_object, identify, wait_until

if TYPE_CHECKING:
    from headwater.api.kinddef import KindDef
    from headwater.runtime.kube import KubeClient

FIELD_MANAGER = "flux"


async def upsert(client: KubeClient, obj: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Server-side apply `obj`; (the stored object, whether it was created rather than updated)."""
    meta = obj["metadata"]
    existing = await client.get_or_none(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    stored = await client.apply(obj, field_manager=FIELD_MANAGER, force=True)
    return stored, existing is None


class Deadline:
    """The `--timeout` budget of one command, shared by all its waits."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.text = format_seconds(seconds)


def judge(obj: Mapping[str, Any], kind: KindDef) -> bool:
    """True when Ready for the current generation; CliError on a terminal failure; False to keep waiting."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and observed != generation:
        return False
    ready = condition(obj, "Ready")
    if ready is None:
        return False
    if ready.get("status") == "True":
        return True
    stalled = condition(obj, "Stalled")
    reconciling = condition(obj, "Reconciling")
    if stalled is not None and stalled.get("status") == "True":
        raise CliError(f"{kind.kind} reconciliation failed: {stalled.get('message') or ready.get('message', '')}")
    if ready.get("status") == "False" and (reconciling is None or reconciling.get("status") != "True"):
        raise CliError(f"{kind.kind} reconciliation failed: {ready.get('message', '')}")
    return False


async def wait_ready(client: KubeClient, kind: KindDef, name: str, namespace: str,
                     deadline: Deadline) -> dict[str, Any]:
    """Poll until the object is Ready (see `judge`); a timeout names the object and its last message."""
    last: list[str] = ["waiting to be reconciled"]

    async def probe() -> dict[str, Any] | None:
        obj = await get_object(client, kind, name, namespace)
        if judge(obj, kind):
            return obj
        ready = condition(obj, "Ready")
        if ready is not None and ready.get("message"):
            last[0] = str(ready["message"])
        return None

    what = f"{identify(kind, namespace, name)} to become ready"
    try:
        return await wait_until(probe, what, deadline.at, deadline.text)
    except CliError as err:
        if str(err).startswith("timed out"):
            raise CliError(f"{err} (last status: {last[0]})") from err
        raise


async def apply_and_wait(client: KubeClient, obj: Mapping[str, Any], kind: KindDef, deadline: Deadline, *,
                         noun: str, applied: str, static: bool = False) -> dict[str, Any]:
    """flux's create sequence: `► applying <noun>`, `✔ <applied> created|updated`, then wait for Ready.

    A `static` object (an OCI HelmRepository: nothing to fetch, no status) is done once stored.
    """
    from headwater.cli.common import log

    log("►", f"applying {noun}")
    stored, created = await upsert(client, obj)
    log("✔", f"{applied} {'created' if created else 'updated'}")
    log("◎", f"waiting for {noun} reconciliation")
    if static:
        return stored
    meta = obj["metadata"]
    return await wait_ready(client, kind, meta["name"], meta["namespace"], deadline)
