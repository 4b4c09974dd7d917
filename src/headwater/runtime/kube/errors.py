"""The exception tree of the Kubernetes client, shaped after the apiserver's `Status` reasons.

Callers branch on the type (`NotFound`, `Conflict`, `Forbidden`, `Invalid`, `Gone`, …) instead of
inspecting status codes, and every error keeps the apiserver's own message, which is what users need to
see. Transport failures (`ClusterUnreachable`) are separate from answers the apiserver gave.
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Base of every error this client raises."""


class ConfigError(KubeError):
    """The kubeconfig or in-cluster configuration cannot be used."""


class ClusterUnreachable(KubeError):
    """No answer from the apiserver (connection refused, TLS failure, timeout)."""


class UnknownKind(KubeError):
    """The apiserver serves no such kind at that apiVersion (CRD missing or not yet established)."""


class ApiError(KubeError):
    """The apiserver answered with a failure `Status`."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class MethodNotAllowed(ApiError):
    pass


class Conflict(ApiError):
    """An optimistic-concurrency conflict or a field-manager conflict of server-side apply."""


class AlreadyExists(Conflict):
    pass


class Gone(ApiError):
    """The resourceVersion is too old (HTTP 410): a watch must re-list."""


class Invalid(ApiError):
    """The object failed validation (HTTP 422); `details.causes` names the fields."""


class TooManyRequests(ApiError):
    pass


class ServerError(ApiError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def from_status(code: int, body: dict[str, Any] | None, fallback: str = "") -> ApiError:
    """Build the right exception from an HTTP status and the apiserver's `Status` body."""
    body = body or {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or fallback or f"HTTP {code}")
    details = body.get("details") if isinstance(body.get("details"), dict) else None
    cls: type[ApiError]
    if code == 409 and reason == "AlreadyExists":
        cls = AlreadyExists
    elif code >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(code, ApiError)
    return cls(code, reason, message, details)
