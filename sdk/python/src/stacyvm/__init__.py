"""StacyVM Python SDK: client for the StacyVM sandbox service.

Keeps the public names of the 0.1.x SDK (``Client``, ``AsyncClient``,
``Sandbox``, ``AsyncSandbox``, the models and exceptions), so programs written
for it run unchanged.
"""

from stacyvm._version import __version__
from stacyvm.async_client import AsyncClient
from stacyvm.async_sandbox import AsyncSandbox
from stacyvm.client import Client
from stacyvm.exceptions import (
    BadRequestError,
    ClientTimeoutError,
    ConflictError,
    ConnectionError,
    ExecTimeoutError,
    ForbiddenError,
    InternalServerError,
    InvalidResponseError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PreviewUnreachableError,
    ProviderError,
    ResourceLimitError,
    SandboxNotFound,
    ServerNotImplementedError,
    SetupFailedError,
    StacyVMError,
    StreamError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedMediaTypeError,
    UnsupportedVersionError,
    WorkerUnavailableError,
)
from stacyvm.models import (
    AdmissionDecision,
    APIKey,
    ErrorDetail,
    Event,
    ExecExit,
    ExecResult,
    FileInfo,
    OwnerQuota,
    Page,
    QuotaSummary,
    QuotaUsage,
    SandboxInfo,
    SandboxStats,
    SpawnAdmissionDecision,
    StreamChunk,
    Template,
)
from stacyvm.providers import ProviderManager
from stacyvm.sandbox import Sandbox
from stacyvm.streaming import (
    AsyncEventStream,
    AsyncExecStream,
    AsyncLogStream,
    EventStream,
    ExecStream,
    LogStream,
)
from stacyvm.templates import AsyncTemplateManager, TemplateManager

__all__ = [
    "__version__",
    # clients and resources
    "Client",
    "AsyncClient",
    "Sandbox",
    "AsyncSandbox",
    "TemplateManager",
    "AsyncTemplateManager",
    "ProviderManager",
    # streams
    "ExecStream",
    "AsyncExecStream",
    "LogStream",
    "AsyncLogStream",
    "EventStream",
    "AsyncEventStream",
    # models
    "ExecResult",
    "QuotaSummary",
    "SandboxInfo",
    "SpawnAdmissionDecision",
    "AdmissionDecision",
    "Template",
    "StreamChunk",
    "ExecExit",
    "ErrorDetail",
    "SandboxStats",
    "OwnerQuota",
    "QuotaUsage",
    "APIKey",
    "Event",
    "FileInfo",
    "Page",
    # exceptions
    "StacyVMError",
    "SandboxNotFound",
    "NotFoundError",
    "ProviderError",
    "ConnectionError",
    "ClientTimeoutError",
    "BadRequestError",
    "UnsupportedVersionError",
    "UnauthorizedError",
    "ForbiddenError",
    "MethodNotAllowedError",
    "ExecTimeoutError",
    "ConflictError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "SetupFailedError",
    "ResourceLimitError",
    "InternalServerError",
    "ServerNotImplementedError",
    "PreviewUnreachableError",
    "UnavailableError",
    "WorkerUnavailableError",
    "StreamError",
    "InvalidResponseError",
]
