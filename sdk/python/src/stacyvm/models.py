"""StacyVM SDK data models (the schemas of openapi/openapi.json).

Resources are dataclasses built with ``from_dict`` (unknown keys are ignored, so
the server may add fields). Responses that the 0.1.x SDK returned as plain
dicts, and the loosely specified system documents, are ``TypedDict``\\ s: plain
dicts at run time, typed for checkers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    Any,
    Dict,
    Generic,
    Iterable,
    List,
    Mapping,
    Optional,
    TypedDict,
    TypeVar,
)

__all__ = [
    "ExecResult",
    "SandboxInfo",
    "SpawnAdmissionDecision",
    "AdmissionDecision",
    "QuotaSummary",
    "Template",
    "StreamChunk",
    "ErrorDetail",
    "ExecExit",
    "SandboxStats",
    "OwnerQuota",
    "QuotaUsage",
    "APIKey",
    "Event",
    "Page",
    "FileInfo",
    "Health",
    "Live",
    "Readiness",
    "ProviderHealth",
    "ProviderInfo",
    "ProviderDetail",
    "PoolStatus",
]

T = TypeVar("T")


def _str_map(value: Any) -> Dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


# --- 0.1.x models (field names and order kept) ---------------------------------


@dataclass
class ExecResult:
    """Result of a synchronous exec (``{"exit_code","stdout","stderr","duration"}``)."""

    exit_code: int
    stdout: str
    stderr: str
    duration: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecResult:
        return cls(
            exit_code=int(data["exit_code"]),
            stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")),
            duration=str(data.get("duration", "")),
        )


@dataclass
class SandboxInfo:
    """A sandbox as the server describes it (schema ``Sandbox``)."""

    id: str
    state: str
    provider: str
    image: str
    memory_mb: int = 512
    vcpus: int = 1
    created_at: str = ""
    expires_at: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)
    preview_domain: str = "localhost"
    worker_id: str = ""
    updated_at: str = ""
    state_reason: Optional[str] = None
    owner_id: Optional[str] = None
    tenant_id: Optional[str] = None
    template: Optional[str] = None
    vm_id: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxInfo:
        return cls(
            id=str(data["id"]),
            state=str(data.get("state", "unknown")),
            provider=str(data.get("provider", "")),
            image=str(data.get("image", "")),
            memory_mb=int(data.get("memory_mb", 512)),
            vcpus=int(data.get("vcpus", 1)),
            created_at=str(data.get("created_at", "")),
            expires_at=str(data.get("expires_at", "")),
            metadata=_str_map(data.get("metadata")),
            preview_domain=str(data.get("preview_domain") or "localhost"),
            worker_id=str(data.get("worker_id", "")),
            updated_at=str(data.get("updated_at", "")),
            state_reason=data.get("state_reason"),
            owner_id=data.get("owner_id"),
            tenant_id=data.get("tenant_id"),
            template=data.get("template"),
            vm_id=data.get("vm_id"),
        )


@dataclass
class SpawnAdmissionDecision:
    """Result of a spawn dry run (``POST /sandboxes/admission``)."""

    allowed: bool
    queueable: bool
    reason: str = ""
    active_sandboxes: int = 0
    max_sandboxes: int = 0
    active_owner_sandboxes: int = 0
    max_owner_sandboxes: int = 0
    max_ttl: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpawnAdmissionDecision:
        return cls(
            allowed=bool(data["allowed"]),
            queueable=bool(data.get("queueable", False)),
            reason=str(data.get("reason", "")),
            active_sandboxes=int(data.get("active_sandboxes", 0)),
            max_sandboxes=int(data.get("max_sandboxes", 0)),
            active_owner_sandboxes=int(data.get("active_owner_sandboxes", 0)),
            max_owner_sandboxes=int(data.get("max_owner_sandboxes", 0)),
            max_ttl=str(data.get("max_ttl", "")),
        )


AdmissionDecision = SpawnAdmissionDecision


@dataclass
class QuotaSummary:
    """Redacted quota policy coverage counts (``GET /quotas/summary``)."""

    total: int = 0
    with_max_sandboxes: int = 0
    with_max_ttl: int = 0
    with_max_exec_timeout: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuotaSummary:
        return cls(
            total=int(data.get("total", 0)),
            with_max_sandboxes=int(data.get("with_max_sandboxes", 0)),
            with_max_ttl=int(data.get("with_max_ttl", 0)),
            with_max_exec_timeout=int(data.get("with_max_exec_timeout", 0)),
        )


@dataclass
class Template:
    """A sandbox template. The first seven fields are the 0.1.x SDK's.

    ``tenant_id`` is sent only when not ``None`` (``""`` makes a global template).
    ``version``, ``created_at`` and ``updated_at`` are filled by the server.
    """

    name: str
    image: str
    memory_mb: int = 512
    vcpus: int = 1
    ttl: str = "30m"
    provider: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)
    description: str = ""
    env: Dict[str, str] = field(default_factory=dict)
    setup: List[str] = field(default_factory=list)
    on_drain: str = ""
    tenant_id: Optional[str] = None
    version: int = 0
    created_at: str = ""
    updated_at: str = ""

    def to_request(self, *, include_name: bool = True) -> Dict[str, Any]:
        """The ``TemplateRequest`` body: the 0.1.x fields always, the newer ones when set."""
        body: Dict[str, Any] = {}
        if include_name:
            body["name"] = self.name
        body.update(
            image=self.image,
            memory_mb=self.memory_mb,
            vcpus=self.vcpus,
            ttl=self.ttl,
            provider=self.provider,
            metadata=dict(self.metadata),
        )
        if self.description:
            body["description"] = self.description
        if self.env:
            body["env"] = dict(self.env)
        if self.setup:
            body["setup"] = list(self.setup)
        if self.on_drain:
            body["on_drain"] = self.on_drain
        if self.tenant_id is not None:
            body["tenant_id"] = self.tenant_id
        return body

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Template:
        setup = data.get("setup")
        return cls(
            name=str(data["name"]),
            image=str(data["image"]),
            memory_mb=int(data.get("memory_mb", 512)),
            vcpus=int(data.get("vcpus", 1)),
            ttl=str(data.get("ttl", "30m")),
            provider=str(data.get("provider", "")),
            metadata=_str_map(data.get("metadata")),
            description=str(data.get("description", "")),
            env=_str_map(data.get("env")),
            setup=[str(s) for s in setup] if isinstance(setup, list) else [],
            on_drain=str(data.get("on_drain", "")),
            tenant_id=data.get("tenant_id"),
            version=int(data.get("version", 0)),
            created_at=str(data.get("created_at", "")),
            updated_at=str(data.get("updated_at", "")),
        )


@dataclass
class StreamChunk:
    """One output frame of a stream: ``stream`` is ``"stdout"``, ``"stderr"`` or ``"console"``."""

    stream: str
    data: str


# --- newer models ---------------------------------------------------------------


@dataclass
class ErrorDetail:
    """The error envelope ``{"code","message"}`` carried inside a frame."""

    code: str
    message: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErrorDetail:
        return cls(code=str(data.get("code", "")), message=str(data.get("message", "")))


@dataclass
class ExecExit:
    """The final frame of a stream (``{"stream":"exit","exit_code",...}``).

    ``exit_code`` is -1 on timeout or infrastructure failure; ``error`` then says why.
    """

    exit_code: int
    duration: str = ""
    timed_out: bool = False
    error: Optional[ErrorDetail] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecExit:
        err = data.get("error")
        return cls(
            exit_code=int(data.get("exit_code", -1)),
            duration=str(data.get("duration", "")),
            timed_out=bool(data.get("timed_out", False)),
            error=ErrorDetail.from_dict(err) if isinstance(err, Mapping) else None,
        )


@dataclass
class SandboxStats:
    """Resource usage of a sandbox; the numbers are ``None`` when not ``supported``."""

    supported: bool
    cpu_pct: Optional[float] = None
    mem_bytes: Optional[int] = None
    mem_limit_bytes: Optional[int] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxStats:
        return cls(
            supported=bool(data.get("supported", False)),
            cpu_pct=data.get("cpu_pct"),
            mem_bytes=data.get("mem_bytes"),
            mem_limit_bytes=data.get("mem_limit_bytes"),
        )


@dataclass
class OwnerQuota:
    """A per-owner quota. Durations are Go duration strings; ``""`` inherits the global value."""

    owner_id: str
    max_sandboxes: int = 0
    max_ttl: str = ""
    max_exec_timeout: str = ""
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OwnerQuota:
        return cls(
            owner_id=str(data["owner_id"]),
            max_sandboxes=int(data.get("max_sandboxes", 0)),
            max_ttl=str(data.get("max_ttl", "")),
            max_exec_timeout=str(data.get("max_exec_timeout", "")),
            created_at=str(data.get("created_at", "")),
            updated_at=str(data.get("updated_at", "")),
        )


@dataclass
class QuotaUsage:
    """An owner's effective limits and current usage."""

    owner_id: str
    active_sandboxes: int = 0
    max_sandboxes: int = 0
    max_ttl: str = ""
    max_exec_timeout: str = ""
    quota_configured: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuotaUsage:
        return cls(
            owner_id=str(data["owner_id"]),
            active_sandboxes=int(data.get("active_sandboxes", 0)),
            max_sandboxes=int(data.get("max_sandboxes", 0)),
            max_ttl=str(data.get("max_ttl", "")),
            max_exec_timeout=str(data.get("max_exec_timeout", "")),
            quota_configured=bool(data.get("quota_configured", False)),
        )


@dataclass
class APIKey:
    """An API key. ``key`` (the secret) is set only in the response that created it."""

    id: str
    role: str
    description: str = ""
    created_at: str = ""
    key: Optional[str] = None
    tenant_id: Optional[str] = None
    owner_id: Optional[str] = None
    expires_at: Optional[str] = None
    revoked_at: Optional[str] = None
    last_used_at: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> APIKey:
        return cls(
            id=str(data["id"]),
            role=str(data.get("role", "")),
            description=str(data.get("description", "")),
            created_at=str(data.get("created_at", "")),
            key=data.get("key"),
            tenant_id=data.get("tenant_id"),
            owner_id=data.get("owner_id"),
            expires_at=data.get("expires_at"),
            revoked_at=data.get("revoked_at"),
            last_used_at=data.get("last_used_at"),
        )


@dataclass
class Event:
    """One server-sent event (``GET /events``)."""

    id: str
    type: str
    timestamp: str = ""
    sandbox_id: Optional[str] = None
    worker_id: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        payload = data.get("data")
        return cls(
            id=str(data.get("id", "")),
            type=str(data.get("type", "")),
            timestamp=str(data.get("timestamp", "")),
            sandbox_id=data.get("sandbox_id"),
            worker_id=data.get("worker_id"),
            data=dict(payload) if isinstance(payload, Mapping) else {},
        )


class Page(List[T], Generic[T]):
    """A list that also carries ``next_cursor`` (``None`` on the last page).

    List methods accept ``limit``/``cursor``; without them the server returns
    the plain array and ``next_cursor`` is ``None``.
    """

    def __init__(self, items: Iterable[T] = (), next_cursor: Optional[str] = None) -> None:
        super().__init__(items)
        self.next_cursor = next_cursor


# --- TypedDicts (plain dicts at run time) -------------------------------------


class FileInfo(TypedDict):
    """An entry of ``list_files`` / the result of ``stat_file``."""

    path: str
    name: str
    size: int
    mode: str
    is_dir: bool
    mod_time: str


class _HealthOptional(TypedDict, total=False):
    warnings: List[str]


class Health(_HealthOptional):
    status: str
    version: str
    uptime: str


class Live(TypedDict):
    status: str
    version: str
    uptime: str


class _ProviderHealthOptional(TypedDict, total=False):
    latency_ms: int
    error: str


class ProviderHealth(_ProviderHealthOptional):
    name: str
    healthy: bool


class Readiness(TypedDict):
    """``GET /ready``; returned for both 200 and 503 (``status`` is then ``"not_ready"``)."""

    status: str
    version: str
    uptime: str
    providers: List[ProviderHealth]
    ready_providers: int
    total_providers: int
    checks: Dict[str, str]


class _ProviderInfoOptional(TypedDict, total=False):
    latency_ms: int
    error: str
    runtime_count: int
    workers: List[str]


class ProviderInfo(_ProviderInfoOptional):
    name: str
    healthy: bool
    default: bool
    last_checked: str
    capabilities: List[str]
    location: str


class ProviderDetail(TypedDict):
    name: str
    healthy: bool
    default: bool
    sandbox_count: int
    health: Dict[str, Any]
    config: Dict[str, Any]


class PoolStatus(TypedDict):
    enabled: bool
