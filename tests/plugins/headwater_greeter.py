"""A plug-in controller made of only what the kit asks for: a kind, a spec, flags and a reconciler.

`Greeting` objects name a GitRepository; the greeter writes `status.message` = "<greeting>, <spec.name>"
with `--greeting` its own flag, and mentions the repository's artifact revision when it has one. It
is installed the way any third-party controller is: an entry point in the group `headwater.controllers`
(the test writes a dist-info for it), and it runs under `headwater controller all` beside the built-in
controllers, reading GitRepositories from the same shared cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from headwater.api.defs.common import CONDITIONS, OBSERVED_GENERATION
from headwater.api.defs.source import GIT_REPOSITORY
from headwater.api.kinddef import READY, KindDef, Reference
from headwater.api.schema import obj, string
from headwater.runtime.context import ReconcileContext
from headwater.runtime.flags import flag
from headwater.runtime.reconciler import Reconciler
from headwater.runtime.result import Result
from headwater.runtime.spec import ControllerSpec, SetupContext
from headwater.runtime.watches import artifact_changed, referenced_by

REPOSITORY_REF = Reference(("spec", "repositoryRef"), ("GitRepository",))

GREETING = KindDef(
    group="greeter.headwater.dev",
    version="v1",
    kind="Greeting",
    plural="greetings",
    description="A greeting the greeter controller writes into status.",
    spec=obj("What to greet.", {
        "name": string("Who to greet.", required=True),
        "repositoryRef": obj("A GitRepository whose revision the greeting mentions.", {"name": string()}),
    }),
    status=obj("The greeting.", {
        "message": string("The greeting."),
        "conditions": CONDITIONS,
        "observedGeneration": OBSERVED_GENERATION,
    }),
    printer_columns=(READY,),
    category="greeter",
    component="greeter-controller",
    references=(REPOSITORY_REF,),
)


@dataclass(frozen=True)
class GreeterFlags:
    greeting: str = flag("Hello", "How to greet.")


class GreetingReconciler(Reconciler):
    api_version: ClassVar[str] = GREETING.api_version
    kind: ClassVar[str] = GREETING.kind

    def __init__(self, greeting: str, repositories: object) -> None:
        self.greeting = greeting
        self.repositories = repositories

    async def reconcile(self, ctx: ReconcileContext) -> Result:
        message = f"{self.greeting}, {ctx.obj['spec']['name']}"
        for _, namespace, name in REPOSITORY_REF.targets(ctx.obj):
            repository = self.repositories.get((namespace, name))  # type: ignore[attr-defined]
            revision = ((repository or {}).get("status") or {}).get("artifact", {}).get("revision")
            message += f" (repository {name} at {revision or 'no revision yet'})"
        ctx.status["message"] = message
        return Result()


async def setup(ctx: SetupContext[GreeterFlags]) -> None:
    reconciler = GreetingReconciler(ctx.flags.greeting, ctx.cache.informer_for(GIT_REPOSITORY))
    ctx.manager.new_controller(
        "greeting", reconciler, options=ctx.options, field_manager="greeter-controller",
        watches=[referenced_by(REPOSITORY_REF, GIT_REPOSITORY.api_version, GIT_REPOSITORY.kind,
                               when=artifact_changed)],
    )


SPEC = ControllerSpec(
    name="greeter",
    process_name="greeter-controller",
    summary="Write greetings into Greeting objects (a plug-in example).",
    setup="headwater_greeter:setup",
    flags=GreeterFlags,
    concurrent=1,
    reconciles=((GREETING.api_version, GREETING.kind),),
    reads=((GIT_REPOSITORY.api_version, GIT_REPOSITORY.kind),),
    kinds=(GREETING,),
)
