"""One builder per operation of openapi/openapi.json (no I/O).

Each function returns a :class:`~stacyvm._transport.Call` describing the
request and how to parse its response. :class:`~stacyvm.Client`,
:class:`~stacyvm.AsyncClient` and the sandbox and template objects execute
them, so the sync and async SDKs send identical requests.
"""

from __future__ import annotations

import base64
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    Union,
)
from urllib.parse import quote

import httpx

from stacyvm._transport import Call
from stacyvm.models import (
    APIKey,
    ExecResult,
    FileInfo,
    Health,
    Live,
    OwnerQuota,
    Page,
    PoolStatus,
    ProviderDetail,
    ProviderInfo,
    QuotaSummary,
    QuotaUsage,
    Readiness,
    SandboxInfo,
    SandboxStats,
    SpawnAdmissionDecision,
    Template,
)

T = TypeVar("T")

API = "/api/v1"
DEFAULT_IMAGE = "alpine:latest"


def _seg(value: str) -> str:
    """Percent-encode one path segment (the server decodes it)."""
    return quote(str(value), safe="")


def _sandbox_path(sandbox_id: str, suffix: str = "") -> str:
    return f"{API}/sandboxes/{_seg(sandbox_id)}{suffix}"


def _json(response: httpx.Response) -> Any:
    return response.json()


def _none(response: httpx.Response) -> None:
    return None


def _text(response: httpx.Response) -> str:
    return response.text


def _bytes(response: httpx.Response) -> bytes:
    return response.content


def _page(item: Callable[[Mapping[str, Any]], T]) -> Callable[[httpx.Response], Page[T]]:
    """Parse a plain array or a ``{"items","next_cursor"}`` page."""

    def parse(response: httpx.Response) -> Page[T]:
        data = response.json()
        if isinstance(data, dict):
            return Page([item(x) for x in data["items"]], data.get("next_cursor"))
        return Page([item(x) for x in data])

    return parse


def _query(**values: Any) -> Dict[str, str]:
    """Query parameters without ``None``s; booleans as ``true``/``false``."""
    out: Dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _compact(**values: Any) -> Dict[str, Any]:
    """A JSON body without ``None``s."""
    return {k: v for k, v in values.items() if v is not None}


def _idempotency(key: Optional[str]) -> Dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


# --- system -------------------------------------------------------------------


def get_health() -> Call[Health]:
    return Call("GET", f"{API}/health", _json)


def get_live() -> Call[Live]:
    return Call("GET", f"{API}/live", _json)


def get_ready() -> Call[Readiness]:
    return Call("GET", f"{API}/ready", _json, accept=(503,))


def get_metrics() -> Call[Dict[str, Any]]:
    return Call("GET", f"{API}/metrics", _json)


def get_prometheus_metrics() -> Call[str]:
    return Call("GET", f"{API}/metrics/prometheus", _text)


def get_pool_status() -> Call[PoolStatus]:
    return Call("GET", f"{API}/pool/status", _json)


def get_openapi_document() -> Call[Dict[str, Any]]:
    return Call("GET", f"{API}/openapi.json", _json)


def get_swagger_document() -> Call[Dict[str, Any]]:
    return Call("GET", "/swagger/doc.json", _json)


def stream_events(
    sandbox_id: Optional[str] = None,
    types: Union[str, Sequence[str], None] = None,
    named: Optional[bool] = None,
    last_event_id: Optional[str] = None,
) -> Call[None]:
    if types is not None and not isinstance(types, str):
        types = ",".join(types)
    params = _query(sandbox_id=sandbox_id, types=types, named=named, last_event_id=last_event_id)
    return Call("GET", f"{API}/events", _none, params=params, headers={"Accept": "text/event-stream"})


# --- providers ----------------------------------------------------------------


def list_providers() -> Call[List[ProviderInfo]]:
    return Call("GET", f"{API}/providers", _json)


def test_providers() -> Call[Dict[str, bool]]:
    return Call("POST", f"{API}/providers/test", _json)


def get_provider(name: str) -> Call[ProviderDetail]:
    return Call("GET", f"{API}/providers/{_seg(name)}", _json)


# --- sandboxes ----------------------------------------------------------------


def spawn_body(
    image: Optional[str] = None,
    provider: Optional[str] = None,
    memory_mb: Optional[int] = None,
    vcpus: Optional[int] = None,
    ttl: Optional[str] = None,
    owner_id: Optional[str] = None,
    template: Optional[str] = None,
    metadata: Optional[Mapping[str, str]] = None,
    tenant_id: Optional[str] = None,
    network: Optional[str] = None,
) -> Dict[str, Any]:
    """The ``SpawnRequest`` body, in the 0.1.x SDK's key order."""
    # Empty values are left out, as the 0.1.x SDK did: the server default applies.
    return _compact(
        image=image or None,
        provider=provider or None,
        memory_mb=memory_mb or None,
        vcpus=vcpus or None,
        ttl=ttl or None,
        owner_id=owner_id or None,
        template=template or None,
        metadata=dict(metadata) if metadata else None,
        tenant_id=tenant_id,
        network=network or None,
    )


def list_sandboxes(
    state: Optional[str] = None,
    provider: Optional[str] = None,
    worker_id: Optional[str] = None,
    template: Optional[str] = None,
    owner_id: Optional[str] = None,
    include_destroyed: Optional[bool] = None,
    limit: Optional[int] = None,
    cursor: Optional[str] = None,
) -> Call[Page[SandboxInfo]]:
    params = _query(
        state=state,
        provider=provider,
        worker_id=worker_id,
        template=template,
        owner_id=owner_id,
        include_destroyed=include_destroyed,
        limit=limit,
        cursor=cursor,
    )
    return Call("GET", f"{API}/sandboxes", _page(SandboxInfo.from_dict), params=params)


def create_sandbox(body: Dict[str, Any], idempotency_key: Optional[str] = None) -> Call[Dict[str, Any]]:
    return Call("POST", f"{API}/sandboxes", _json, json=body, headers=_idempotency(idempotency_key))


def check_admission(body: Dict[str, Any]) -> Call[SpawnAdmissionDecision]:
    return Call(
        "POST",
        f"{API}/sandboxes/admission",
        lambda r: SpawnAdmissionDecision.from_dict(r.json()),
        json=body,
    )


def prune_sandboxes() -> Call[int]:
    return Call("DELETE", f"{API}/sandboxes", lambda r: int(r.json().get("pruned", 0)))


def get_sandbox(sandbox_id: str) -> Call[Dict[str, Any]]:
    return Call("GET", _sandbox_path(sandbox_id), _json, sandbox_id=sandbox_id)


def destroy_sandbox(sandbox_id: str) -> Call[None]:
    return Call("DELETE", _sandbox_path(sandbox_id), _none, sandbox_id=sandbox_id)


def extend_sandbox(sandbox_id: str, ttl: str, mode: Optional[str] = None) -> Call[Dict[str, Any]]:
    return Call(
        "POST",
        _sandbox_path(sandbox_id, "/extend"),
        _json,
        json=_compact(ttl=ttl, mode=mode),
        sandbox_id=sandbox_id,
    )


def get_sandbox_stats(sandbox_id: str) -> Call[SandboxStats]:
    return Call(
        "GET",
        _sandbox_path(sandbox_id, "/stats"),
        lambda r: SandboxStats.from_dict(r.json()),
        sandbox_id=sandbox_id,
    )


def get_sandbox_logs(
    sandbox_id: str, lines: Optional[int] = None, follow: Optional[bool] = None
) -> Call[List[str]]:
    return Call(
        "GET",
        _sandbox_path(sandbox_id, "/logs"),
        _json,
        params=_query(lines=lines, follow=follow),
        sandbox_id=sandbox_id,
    )


# --- exec -----------------------------------------------------------------------


def _exec_result(response: httpx.Response) -> ExecResult:
    result = ExecResult.from_dict(response.json())
    result.stdout_truncated = response.headers.get("X-Stacyvm-Stdout-Truncated") == "true"
    result.stderr_truncated = response.headers.get("X-Stacyvm-Stderr-Truncated") == "true"
    return result


def exec_command(
    sandbox_id: str,
    command: str,
    args: Optional[Sequence[str]] = None,
    mode: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    workdir: Optional[str] = None,
    timeout: Optional[str] = None,
    *,
    stream: bool = False,
    stdin: Optional[str] = None,
    output_encoding: Optional[str] = None,
) -> Call[ExecResult]:
    """``POST /exec``; with ``stream=True`` the caller reads NDJSON frames instead."""
    body: Dict[str, Any] = {"command": command}
    if stream:
        body["stream"] = True
    body.update(
        _compact(
            args=list(args) if args else None,
            mode=mode or None,
            env=dict(env) if env else None,
            workdir=workdir or None,
            timeout=timeout or None,
            stdin=stdin,
            output_encoding=output_encoding,
        )
    )
    return Call(
        "POST", _sandbox_path(sandbox_id, "/exec"), _exec_result, json=body, sandbox_id=sandbox_id
    )


# --- files ----------------------------------------------------------------------


def read_file(sandbox_id: str, path: str) -> Call[bytes]:
    return Call(
        "GET",
        _sandbox_path(sandbox_id, "/files"),
        _bytes,
        params={"path": path},
        sandbox_id=sandbox_id,
    )


def write_file(
    sandbox_id: str, path: str, content: Union[str, bytes], mode: Optional[str] = None
) -> Call[None]:
    """JSON write: text as UTF-8, ``bytes`` as base64."""
    body: Dict[str, Any] = {"path": path}
    if isinstance(content, (bytes, bytearray, memoryview)):
        body["content"] = base64.b64encode(bytes(content)).decode("ascii")
        body["encoding"] = "base64"
    else:
        body["content"] = content
    if mode:
        body["mode"] = mode
    return Call(
        "POST", _sandbox_path(sandbox_id, "/files"), _none, json=body, sandbox_id=sandbox_id
    )


def upload_file(
    sandbox_id: str, path: str, data: bytes, mode: Optional[str] = None
) -> Call[int]:
    """Raw ``PUT`` upload (binary-safe, streamed by the server)."""
    return Call(
        "PUT",
        _sandbox_path(sandbox_id, "/files"),
        lambda r: int(r.json().get("size", len(data))),
        params=_query(path=path, mode=mode or None),
        content=bytes(data),
        headers={"Content-Type": "application/octet-stream"},
        sandbox_id=sandbox_id,
    )


def delete_file(sandbox_id: str, path: str, recursive: bool = False) -> Call[None]:
    params = {"path": path}
    if recursive:
        params["recursive"] = "true"
    return Call(
        "DELETE", _sandbox_path(sandbox_id, "/files"), _none, params=params, sandbox_id=sandbox_id
    )


def list_files(sandbox_id: str, path: str = "/") -> Call[List[FileInfo]]:
    return Call(
        "GET",
        _sandbox_path(sandbox_id, "/files/list"),
        _json,
        params={"path": path},
        sandbox_id=sandbox_id,
    )


def stat_file(sandbox_id: str, path: str) -> Call[FileInfo]:
    return Call(
        "GET",
        _sandbox_path(sandbox_id, "/files/stat"),
        _json,
        params={"path": path},
        sandbox_id=sandbox_id,
    )


def glob_files(sandbox_id: str, pattern: str) -> Call[List[str]]:
    return Call(
        "GET",
        _sandbox_path(sandbox_id, "/files/glob"),
        _json,
        params={"pattern": pattern},
        sandbox_id=sandbox_id,
    )


def move_file(sandbox_id: str, old_path: str, new_path: str) -> Call[None]:
    return Call(
        "POST",
        _sandbox_path(sandbox_id, "/files/move"),
        _none,
        json={"old_path": old_path, "new_path": new_path},
        sandbox_id=sandbox_id,
    )


def chmod_file(sandbox_id: str, path: str, mode: str) -> Call[None]:
    return Call(
        "POST",
        _sandbox_path(sandbox_id, "/files/chmod"),
        _none,
        json={"path": path, "mode": mode},
        sandbox_id=sandbox_id,
    )


# --- templates ------------------------------------------------------------------


def list_templates(limit: Optional[int] = None, cursor: Optional[str] = None) -> Call[Page[Template]]:
    return Call(
        "GET", f"{API}/templates", _page(Template.from_dict), params=_query(limit=limit, cursor=cursor)
    )


def create_template(template: Template) -> Call[Template]:
    return Call(
        "POST", f"{API}/templates", lambda r: Template.from_dict(r.json()), json=template.to_request()
    )


def get_template(name: str) -> Call[Template]:
    return Call("GET", f"{API}/templates/{_seg(name)}", lambda r: Template.from_dict(r.json()))


def replace_template(template: Template) -> Call[Template]:
    return Call(
        "PUT",
        f"{API}/templates/{_seg(template.name)}",
        lambda r: Template.from_dict(r.json()),
        json=template.to_request(),
    )


def delete_template(name: str) -> Call[None]:
    return Call("DELETE", f"{API}/templates/{_seg(name)}", _none)


def spawn_from_template(
    name: str,
    provider: Optional[str] = None,
    ttl: Optional[str] = None,
    metadata: Optional[Mapping[str, str]] = None,
    owner_id: Optional[str] = None,
    idempotency_key: Optional[str] = None,
) -> Call[Dict[str, Any]]:
    """``POST /templates/{name}/spawn``; without overrides no body is sent (as 0.1.x did)."""
    body = _compact(
        provider=provider,
        ttl=ttl,
        metadata=dict(metadata) if metadata else None,
        owner_id=owner_id,
    )
    return Call(
        "POST",
        f"{API}/templates/{_seg(name)}/spawn",
        _json,
        json=body or None,
        headers=_idempotency(idempotency_key),
    )


# --- quotas ---------------------------------------------------------------------


def list_quotas(limit: Optional[int] = None, cursor: Optional[str] = None) -> Call[Page[OwnerQuota]]:
    return Call(
        "GET", f"{API}/quotas", _page(OwnerQuota.from_dict), params=_query(limit=limit, cursor=cursor)
    )


def get_quota_summary() -> Call[QuotaSummary]:
    return Call("GET", f"{API}/quotas/summary", lambda r: QuotaSummary.from_dict(r.json()))


def get_quota(owner_id: str) -> Call[OwnerQuota]:
    return Call("GET", f"{API}/quotas/{_seg(owner_id)}", lambda r: OwnerQuota.from_dict(r.json()))


def put_quota(
    owner_id: str,
    max_sandboxes: Optional[int] = None,
    max_ttl: Optional[str] = None,
    max_exec_timeout: Optional[str] = None,
) -> Call[OwnerQuota]:
    return Call(
        "PUT",
        f"{API}/quotas/{_seg(owner_id)}",
        lambda r: OwnerQuota.from_dict(r.json()),
        json=_compact(max_sandboxes=max_sandboxes, max_ttl=max_ttl, max_exec_timeout=max_exec_timeout),
    )


def delete_quota(owner_id: str) -> Call[None]:
    return Call("DELETE", f"{API}/quotas/{_seg(owner_id)}", _none)


def get_quota_usage(owner_id: str) -> Call[QuotaUsage]:
    return Call(
        "GET", f"{API}/quotas/{_seg(owner_id)}/usage", lambda r: QuotaUsage.from_dict(r.json())
    )


# --- API keys -------------------------------------------------------------------


def list_api_keys() -> Call[List[APIKey]]:
    return Call("GET", f"{API}/admin/api-keys", lambda r: [APIKey.from_dict(k) for k in r.json()])


def create_api_key(
    role: str,
    tenant_id: Optional[str] = None,
    owner_id: Optional[str] = None,
    description: Optional[str] = None,
    expires_in: Optional[str] = None,
) -> Call[APIKey]:
    return Call(
        "POST",
        f"{API}/admin/api-keys",
        lambda r: APIKey.from_dict(r.json()),
        json=_compact(
            role=role,
            tenant_id=tenant_id,
            owner_id=owner_id,
            description=description,
            expires_in=expires_in,
        ),
    )


def revoke_api_key(key_id: str) -> Call[None]:
    return Call("DELETE", f"{API}/admin/api-keys/{_seg(key_id)}", _none)
