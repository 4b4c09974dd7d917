"""``spec.healthCheckExprs``: user-defined CEL health rules for custom kinds, as Flux runs them.

kstatus cannot tell when most third-party custom resources are ready, so a Kustomization may
give, per ``apiVersion``/``kind``, CEL expressions that classify an object as ``inProgress``,
``failed`` or ``current`` (``fluxcd/pkg`` ``runtime/cel``: ``status_evaluator.go``,
``expression.go``, ``status_poller.go``). The semantics ported here:

* **Matching** is by API *group* and kind only (``schema.FromAPIVersionAndKind(...).GroupKind()``):
  an entry for ``example.com/v1`` also applies to ``example.com/v2`` objects. An entry without a
  ``kind`` covers every kind of its group; an entry naming the kind takes precedence over it. If
  several entries name the same group/kind (or the same group without kind), only the first is
  used — later ones are not even parsed.
* **Variables** are the object's top-level fields (``apiVersion``, ``kind``, ``metadata``,
  ``spec``, ``status``, ...); there is no ``self``. ``status.phase == 'Ready'`` is how Flux's
  own docs write it; ``self.status...`` fails to evaluate in Flux as it does here.
* **Order**: if ``status.observedGeneration`` exists and differs from ``metadata.generation``
  the object is InProgress; otherwise ``inProgress`` (if set), then ``failed`` (if set), then
  ``current`` are evaluated and the first that is true decides; if none is true, InProgress.
* **Errors**: an expression that does not parse makes the whole Kustomization fail terminally
  with reason ``InvalidCELExpression`` (:class:`InvalidCELExpression`) before anything is
  applied. An evaluation error — typically selecting a field the object does not have yet —
  or a non-boolean result makes the object's status ``Unknown`` with the error, so the wait
  continues until it succeeds or times out (Flux documents exactly this).

Expressions are compiled by :mod:`headwater.api.cel`, the engine every CEL expression in headwater
uses (one compile cache shared by all Kustomizations, cel-go's comparisons and ``has()`` rules, and
its limits: no optional field selection ``a.?b`` and no ``strings``/``sets`` extension libraries).
This module adds only what is particular to health checks: matching entries to objects, the order of
the three expressions, and Flux's messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from headwater.api.cel import CelEvaluationError, CelSyntaxError, Program, Variables, compile_expression
from headwater.api.models.base import View
from headwater.apply.health import CURRENT, FAILED, IN_PROGRESS, UNKNOWN, Status, StatusValue, api_group
from headwater.runtime.result import TerminalError

__all__ = [
    "INVALID_CEL_EXPRESSION_REASON",
    "CustomHealthChecks",
    "HealthCheckExpressions",
    "InvalidCELExpression",
    "StatusEvaluator",
    "compile_health_checks",
]

INVALID_CEL_EXPRESSION_REASON: Final = "InvalidCELExpression"


class InvalidCELExpression(TerminalError):
    """A ``healthCheckExprs`` entry does not compile: reason ``InvalidCELExpression``, Stalled.

    The message is Flux's (``failed to create custom status evaluator for healthchecks[0]:
    failed to parse the expression Current: failed to parse the CEL expression '<expr>':
    <issue>``); the attributes identify the entry for callers that want more.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int,
        api_version: str,
        kind: str,
        field: str,
        expression: str,
    ) -> None:
        super().__init__(INVALID_CEL_EXPRESSION_REASON, message)
        self.index = index
        self.api_version = api_version
        self.kind = kind
        self.field = field
        self.expression = expression


# --------------------------------------------------------------------------------------------
# Public API.


@dataclass(frozen=True, slots=True)
class HealthCheckExpressions:
    """One ``spec.healthCheckExprs`` entry."""

    api_version: str
    kind: str
    current: str
    in_progress: str = ""
    failed: str = ""

    @classmethod
    def from_spec(cls, entry: Mapping[str, Any] | View) -> HealthCheckExpressions:
        """From the CRD's entry (``apiVersion``, ``kind``, ``current``, ``inProgress``, ``failed``), as a
        typed view or its dict; an absent text is empty, as Go reads it (``Current`` is then refused)."""
        fields = entry.raw if isinstance(entry, View) else entry

        def text(key: str) -> str:
            value = fields.get(key)
            return value if isinstance(value, str) else ""

        return cls(text("apiVersion"), text("kind"), text("current"), text("inProgress"), text("failed"))

    @property
    def group_kind(self) -> tuple[str, str]:
        """(group, kind) the entry applies to; a malformed apiVersion means the core group."""
        return (api_group(self.api_version) or "", self.kind)


def _nested_int(obj: Mapping[str, Any], *path: str) -> tuple[int | None, str | None]:
    current: Any = obj
    for name in path:
        if not isinstance(current, Mapping) or name not in current:
            return None, None
        current = current[name]
    if isinstance(current, int) and not isinstance(current, bool):
        return current, None
    dotted = ".".join(path)
    return None, f".{dotted} accessor error: {current!r} is of the type {type(current).__name__}, expected int64"


class StatusEvaluator:
    """The compiled expressions of one entry; :meth:`evaluate` is Flux's StatusEvaluator.Evaluate."""

    def __init__(self, current: Program, failed: Program | None, in_progress: Program | None) -> None:
        self._order: tuple[tuple[Program | None, StatusValue], ...] = (
            (in_progress, IN_PROGRESS),
            (failed, FAILED),
            (current, CURRENT),
        )

    def evaluate(self, obj: Mapping[str, Any]) -> Status:
        observed, error = _nested_int(obj, "status", "observedGeneration")
        if error is not None:
            return Status(UNKNOWN, error, error)
        if observed is not None:
            generation, error = _nested_int(obj, "metadata", "generation")
            if error is not None:
                return Status(UNKNOWN, error, error)
            if generation is not None and generation != observed:
                return Status(IN_PROGRESS)

        variables = Variables(obj)
        for program, status in self._order:
            if program is None:
                continue
            try:
                matched = program.evaluate_bool(variables)
            except CelEvaluationError as err:
                return Status(UNKNOWN, str(err), str(err))
            if matched:
                return Status(status)
        return Status(IN_PROGRESS)


def _field_program(text: str, field: str, index: int, entry: HealthCheckExpressions) -> Program:
    try:
        return compile_expression(text)
    except CelSyntaxError as err:
        raise InvalidCELExpression(
            f"failed to create custom status evaluator for healthchecks[{index}]: "
            f"failed to parse the expression {field}: failed to parse the CEL expression '{text}': {err}",
            index=index,
            api_version=entry.api_version,
            kind=entry.kind,
            field=field,
            expression=text,
        ) from err


def _evaluator(index: int, entry: HealthCheckExpressions) -> StatusEvaluator:
    if not entry.current:
        raise InvalidCELExpression(
            f"failed to create custom status evaluator for healthchecks[{index}]: expression Current not specified",
            index=index,
            api_version=entry.api_version,
            kind=entry.kind,
            field="Current",
            expression="",
        )
    current = _field_program(entry.current, "Current", index, entry)
    failed = _field_program(entry.failed, "Failed", index, entry) if entry.failed else None
    in_progress = _field_program(entry.in_progress, "InProgress", index, entry) if entry.in_progress else None
    return StatusEvaluator(current, failed, in_progress)


class CustomHealthChecks:
    """The readers a Kustomization's ``healthCheckExprs`` define, keyed by (group, kind).

    Pass it as ``custom=`` to :func:`headwater.apply.health.compute_status`; it answers for the
    kinds it covers (taking precedence over kstatus, built-in kinds included) and ``None`` for
    the rest.
    """

    def __init__(self, evaluators: Mapping[tuple[str, str], StatusEvaluator] | None = None) -> None:
        self._evaluators: dict[tuple[str, str], StatusEvaluator] = dict(evaluators or {})

    def __len__(self) -> int:
        return len(self._evaluators)

    def __contains__(self, group_kind: object) -> bool:
        return group_kind in self._evaluators

    def read(self, obj: Mapping[str, Any]) -> Status | None:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return None
        group = api_group(api_version) or ""
        evaluator = self._evaluators.get((group, kind)) or self._evaluators.get((group, ""))
        return evaluator.evaluate(obj) if evaluator is not None else None

    def group_kinds(self) -> list[tuple[str, str]]:
        """The (group, kind) pairs covered, in spec order; an empty kind covers the whole group."""
        return list(self._evaluators)


def compile_health_checks(
    entries: Iterable[HealthCheckExpressions | Mapping[str, Any] | View],
) -> CustomHealthChecks:
    """Compile a Kustomization's ``spec.healthCheckExprs`` (typed views or dicts of the spec, or entries).

    Raises :class:`InvalidCELExpression` for the first entry that does not compile; entries
    repeating an earlier group/kind are ignored without being compiled, as in Flux.
    """
    evaluators: dict[tuple[str, str], StatusEvaluator] = {}
    for index, raw in enumerate(entries):
        entry = raw if isinstance(raw, HealthCheckExpressions) else HealthCheckExpressions.from_spec(raw)
        if entry.group_kind in evaluators:
            continue
        evaluators[entry.group_kind] = _evaluator(index, entry)
    return CustomHealthChecks(evaluators)
