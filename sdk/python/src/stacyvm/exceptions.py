"""StacyVM SDK exceptions.

Every error the SDK raises derives from :class:`StacyVMError`. API errors are
chosen by HTTP status first (404 -> :class:`SandboxNotFound`, 401 ->
:class:`UnauthorizedError`, >= 500 -> :class:`ProviderError`, ...) and then
refined by the envelope ``code`` (``{"code": "...", "message": "..."}``) when a
more specific subclass of the status class exists. Transport failures are
wrapped in :class:`ConnectionError`.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import httpx

__all__ = [
    "StacyVMError",
    "BadRequestError",
    "UnsupportedVersionError",
    "UnauthorizedError",
    "ForbiddenError",
    "SandboxNotFound",
    "NotFoundError",
    "MethodNotAllowedError",
    "ExecTimeoutError",
    "ConflictError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "SetupFailedError",
    "ResourceLimitError",
    "ProviderError",
    "InternalServerError",
    "ServerNotImplementedError",
    "PreviewUnreachableError",
    "UnavailableError",
    "WorkerUnavailableError",
    "ConnectionError",
    "ClientTimeoutError",
    "StreamError",
    "InvalidResponseError",
    "error_from_response",
    "handle_response",
]


class StacyVMError(Exception):
    """Base exception for the StacyVM SDK.

    Attributes:
        message: human-readable text (the envelope ``message`` for API errors).
        code: the envelope ``code`` (``"CONFLICT"``, ...), or ``None``.
        status_code: the HTTP status for API errors, else ``None``.
        request_id: the response's ``X-Request-ID``, when there was a response.
    """

    def __init__(
        self,
        message: str,
        code: Optional[str] = None,
        *,
        status_code: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.request_id = request_id


# --- 4xx -----------------------------------------------------------------------


class BadRequestError(StacyVMError):
    """400: the request failed validation."""


class UnsupportedVersionError(BadRequestError):
    """400 ``UNSUPPORTED_VERSION``: a protocol version the server does not speak."""


class UnauthorizedError(StacyVMError):
    """401: missing or invalid credential."""


class ForbiddenError(StacyVMError):
    """403: scope missing, policy denied, or a conflicting tenant header."""


class SandboxNotFound(StacyVMError):
    """404: the sandbox (or template, file, quota, ...) does not exist or is not visible.

    Every 404 raises this class, as the 0.1.x SDK did; ``sandbox_id`` is set
    when the failed call addressed a sandbox.
    """

    def __init__(
        self,
        sandbox_id: Optional[str] = None,
        message: Optional[str] = None,
        *,
        code: Optional[str] = "NOT_FOUND",
        status_code: Optional[int] = 404,
        request_id: Optional[str] = None,
    ) -> None:
        if message is None:
            message = f"Sandbox {sandbox_id!r} not found" if sandbox_id else "not found"
        super().__init__(message, code, status_code=status_code, request_id=request_id)
        self.sandbox_id = sandbox_id


NotFoundError = SandboxNotFound
"""Alias of :class:`SandboxNotFound` for 404s that do not concern a sandbox."""


class MethodNotAllowedError(StacyVMError):
    """405: known path, wrong method."""


class ExecTimeoutError(StacyVMError):
    """408 ``TIMEOUT``: a synchronous exec passed its timeout."""


class ConflictError(StacyVMError):
    """409: duplicate name, idempotency-key mismatch, non-empty directory, ..."""


class PayloadTooLargeError(StacyVMError):
    """413: body or file above the server's limit."""


class UnsupportedMediaTypeError(StacyVMError):
    """415: wrong body content type."""


class SetupFailedError(StacyVMError):
    """422 ``SETUP_FAILED``: a template setup command failed; the sandbox was destroyed."""


class ResourceLimitError(StacyVMError):
    """429: quota, capacity, TTL, exec timeout or rate limit exceeded.

    ``retry_after`` holds the ``Retry-After`` header in seconds, when sent.
    """

    retry_after: Optional[float] = None


# --- 5xx -----------------------------------------------------------------------


class ProviderError(StacyVMError):
    """>= 500: the server, a provider or a worker failed."""


class InternalServerError(ProviderError):
    """500 ``INTERNAL_ERROR``."""


class ServerNotImplementedError(ProviderError):
    """501 ``NOT_IMPLEMENTED``: a route reserved for a later version."""


class PreviewUnreachableError(ProviderError):
    """502 ``PREVIEW_UNREACHABLE``: nothing listens on the preview port."""


class UnavailableError(ProviderError):
    """503 ``UNAVAILABLE``: provider unhealthy or no control-plane leader."""


class WorkerUnavailableError(UnavailableError):
    """503 ``WORKER_UNAVAILABLE``: the worker owning the sandbox is lost or unreachable."""


# --- client side -------------------------------------------------------------


class ConnectionError(StacyVMError):  # noqa: A001 - the 0.1.x SDK's public name
    """The connection to the StacyVM server failed (refused, reset, DNS, TLS, ...)."""


class ClientTimeoutError(ConnectionError):
    """The client gave up waiting (connect, read or write timeout)."""


class StreamError(StacyVMError):
    """A streamed response ended early or was malformed."""


class InvalidResponseError(StacyVMError):
    """The server answered with a body the SDK cannot interpret."""


_BY_STATUS: Dict[int, Type[StacyVMError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: SandboxNotFound,
    405: MethodNotAllowedError,
    408: ExecTimeoutError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: SetupFailedError,
    429: ResourceLimitError,
}

_BY_CODE: Dict[str, Type[StacyVMError]] = {
    "UNSUPPORTED_VERSION": UnsupportedVersionError,
    "INTERNAL_ERROR": InternalServerError,
    "NOT_IMPLEMENTED": ServerNotImplementedError,
    "PREVIEW_UNREACHABLE": PreviewUnreachableError,
    "UNAVAILABLE": UnavailableError,
    "WORKER_UNAVAILABLE": WorkerUnavailableError,
}

_DEFAULT_CODE: Dict[int, str] = {401: "UNAUTHORIZED", 404: "NOT_FOUND"}


def _exception_class(status: int, code: str) -> Type[StacyVMError]:
    """Status decides the family; the envelope code may pick a subclass within it."""
    if status >= 500:
        base: Type[StacyVMError] = ProviderError
    else:
        base = _BY_STATUS.get(status, StacyVMError)
    refined = _BY_CODE.get(code)
    if refined is not None and issubclass(refined, base):
        return refined
    return base


def error_from_response(
    response: httpx.Response, sandbox_id: Optional[str] = None
) -> StacyVMError:
    """Build the exception for an error response (its body must have been read)."""
    status = response.status_code
    code = ""
    message = ""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = str(data.get("code") or "")
        message = str(data.get("message") or "")
    if not message:
        message = response.text.strip() or f"HTTP {status} {response.reason_phrase}".strip()
    if not code:
        code = _DEFAULT_CODE.get(status, "")
    request_id = response.headers.get("X-Request-ID")

    cls = _exception_class(status, code)
    if issubclass(cls, SandboxNotFound):
        return cls(sandbox_id, message, code=code or None, status_code=status, request_id=request_id)
    err = cls(message, code or None, status_code=status, request_id=request_id)
    if isinstance(err, ResourceLimitError):
        retry = response.headers.get("Retry-After")
        try:
            err.retry_after = float(retry) if retry is not None else None
        except ValueError:
            err.retry_after = None
    return err


def handle_response(response: httpx.Response, sandbox_id: Optional[str] = None) -> None:
    """Raise the matching :class:`StacyVMError` when ``response`` is not a success."""
    if response.is_success:
        return
    if not response.is_closed:
        response.read()
    raise error_from_response(response, sandbox_id)
