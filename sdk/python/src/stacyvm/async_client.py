"""StacyVM AsyncClient: the asyncio variant of :class:`~stacyvm.Client`."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import httpx

from stacyvm import _operations as ops
from stacyvm._transport import astream_lines, build_http_headers, send_async
from stacyvm.async_sandbox import AsyncSandbox
from stacyvm.models import (
    APIKey,
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
    SpawnAdmissionDecision,
)
from stacyvm.streaming import AsyncEventStream
from stacyvm.templates import AsyncTemplateManager


class AsyncClient:
    """Async client for the StacyVM API server (same surface as :class:`~stacyvm.Client`).

    Usage::

        async with AsyncClient("http://localhost:7423") as client:
            async with await client.spawn(image="alpine:latest") as sandbox:
                print((await sandbox.exec("echo hello")).stdout)

    Args:
        base_url: server URL.
        api_key: sent as ``X-API-Key`` (any key; its role decides, admin included).
        user_id: sent as ``X-User-ID`` (acting owner).
        timeout: seconds per request; for streams, the longest wait between two reads.
        tenant_id: sent as ``X-Tenant-ID``.
        admin_api_key: sent as ``X-Admin-API-Key``.
        headers: extra headers for every request.
        transport: an httpx transport (for tests, e.g. ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str = "http://localhost:7423",
        api_key: Optional[str] = None,
        user_id: Optional[str] = None,
        timeout: float = 30.0,
        *,
        tenant_id: Optional[str] = None,
        admin_api_key: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=build_http_headers(api_key, user_id, tenant_id, admin_api_key, headers),
            timeout=timeout,
            transport=transport,
        )
        self.templates = AsyncTemplateManager(self._http)

    # --- sandboxes ------------------------------------------------------------

    async def spawn(
        self,
        image: Optional[str] = None,
        provider: Optional[str] = None,
        memory_mb: Optional[int] = None,
        vcpus: Optional[int] = None,
        ttl: Optional[str] = None,
        owner_id: Optional[str] = None,
        template: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        tenant_id: Optional[str] = None,
        network: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> AsyncSandbox:
        """Spawn a sandbox and wait until it runs.

        ``image`` defaults to ``alpine:latest``, or to the template's image
        when ``template`` is given. ``ttl`` is a Go duration (``"1h"``).
        ``idempotency_key`` makes retries return the first result.
        """
        if image is None and not template:
            image = ops.DEFAULT_IMAGE
        body = ops.spawn_body(
            image, provider, memory_mb, vcpus, ttl, owner_id, template, metadata, tenant_id, network
        )
        data = await send_async(self._http, ops.create_sandbox(body, idempotency_key))
        return AsyncSandbox(self._http, data["id"], info=data)

    async def admission(
        self,
        image: Optional[str] = None,
        provider: Optional[str] = None,
        memory_mb: Optional[int] = None,
        vcpus: Optional[int] = None,
        ttl: Optional[str] = None,
        owner_id: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        template: Optional[str] = None,
        tenant_id: Optional[str] = None,
        network: Optional[str] = None,
    ) -> SpawnAdmissionDecision:
        """Dry-run a spawn: would it be admitted now, and if not, why?"""
        body = ops.spawn_body(
            image, provider, memory_mb, vcpus, ttl, owner_id, template, metadata, tenant_id, network
        )
        return await send_async(self._http, ops.check_admission(body))

    async def get(self, sandbox_id: str) -> AsyncSandbox:
        """Attach to an existing sandbox (raises :class:`~stacyvm.SandboxNotFound`)."""
        data = await send_async(self._http, ops.get_sandbox(sandbox_id))
        return AsyncSandbox(self._http, data["id"], info=data)

    async def list(
        self,
        *,
        state: Optional[str] = None,
        provider: Optional[str] = None,
        worker_id: Optional[str] = None,
        template: Optional[str] = None,
        owner_id: Optional[str] = None,
        include_destroyed: Optional[bool] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[SandboxInfo]:
        """List visible sandboxes (a page with ``next_cursor`` when ``limit``/``cursor`` is given)."""
        call = ops.list_sandboxes(
            state, provider, worker_id, template, owner_id, include_destroyed, limit, cursor
        )
        return await send_async(self._http, call)

    async def prune(self) -> int:
        """Destroy every expired sandbox; returns how many."""
        return await send_async(self._http, ops.prune_sandboxes())

    async def spawn_template(
        self,
        template_name: str,
        *,
        provider: Optional[str] = None,
        ttl: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        owner_id: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> AsyncSandbox:
        """Spawn a sandbox from a saved template."""
        call = ops.spawn_from_template(
            template_name, provider, ttl, metadata, owner_id, idempotency_key
        )
        data = await send_async(self._http, call)
        return AsyncSandbox(self._http, data["id"], info=data)

    # --- quotas ---------------------------------------------------------------

    async def quota_summary(self) -> QuotaSummary:
        """Redacted quota policy coverage counts."""
        return await send_async(self._http, ops.get_quota_summary())

    async def list_quotas(
        self, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> Page[OwnerQuota]:
        """All owner quotas (operator)."""
        return await send_async(self._http, ops.list_quotas(limit, cursor))

    async def get_quota(self, owner_id: str) -> OwnerQuota:
        """One owner's quota (raises :class:`~stacyvm.NotFoundError` when none is set)."""
        return await send_async(self._http, ops.get_quota(owner_id))

    async def put_quota(
        self,
        owner_id: str,
        max_sandboxes: Optional[int] = None,
        max_ttl: Optional[str] = None,
        max_exec_timeout: Optional[str] = None,
    ) -> OwnerQuota:
        """Create or replace an owner's quota (admin). ``0``/``""`` inherit the global value."""
        call = ops.put_quota(owner_id, max_sandboxes, max_ttl, max_exec_timeout)
        return await send_async(self._http, call)

    async def delete_quota(self, owner_id: str) -> None:
        """Remove an owner's quota (admin)."""
        await send_async(self._http, ops.delete_quota(owner_id))

    async def get_quota_usage(self, owner_id: str) -> QuotaUsage:
        """An owner's effective limits and active sandboxes."""
        return await send_async(self._http, ops.get_quota_usage(owner_id))

    # --- providers ------------------------------------------------------------

    async def providers(self) -> List[ProviderInfo]:
        """Registered providers and their health."""
        return await send_async(self._http, ops.list_providers())

    async def get_provider(self, name: str) -> ProviderDetail:
        """One provider's health and (redacted) configuration."""
        return await send_async(self._http, ops.get_provider(name))

    async def test_providers(self) -> Dict[str, bool]:
        """Re-check every provider now (operator); ``{name: healthy}``."""
        return await send_async(self._http, ops.test_providers())

    # --- system ---------------------------------------------------------------

    async def health(self) -> Health:
        """Server health: ``{"status":"ok","version","uptime"}``."""
        return await send_async(self._http, ops.get_health())

    async def get_live(self) -> Live:
        """Liveness probe."""
        return await send_async(self._http, ops.get_live())

    async def get_ready(self) -> Readiness:
        """Readiness probe; returned (not raised) when the server is not ready."""
        return await send_async(self._http, ops.get_ready())

    async def get_metrics(self) -> Dict[str, Any]:
        """Metrics as JSON."""
        return await send_async(self._http, ops.get_metrics())

    async def get_prometheus_metrics(self) -> str:
        """Metrics in the Prometheus text format."""
        return await send_async(self._http, ops.get_prometheus_metrics())

    async def pool_status(self) -> PoolStatus:
        """VM pool status (pool mode is not built: ``{"enabled": False}``)."""
        return await send_async(self._http, ops.get_pool_status())

    async def get_openapi_document(self) -> Dict[str, Any]:
        """The server's OpenAPI document."""
        return await send_async(self._http, ops.get_openapi_document())

    async def get_swagger_document(self) -> Dict[str, Any]:
        """The same document at the original's ``/swagger/doc.json``."""
        return await send_async(self._http, ops.get_swagger_document())

    def stream_events(
        self,
        *,
        sandbox_id: Optional[str] = None,
        types: Union[str, Sequence[str], None] = None,
        named: Optional[bool] = None,
        last_event_id: Optional[str] = None,
    ) -> AsyncEventStream:
        """Subscribe to server-sent events (endless: close the stream when done).

        ``types`` filters by type (``"sandbox.*"``); ``last_event_id`` replays
        the events after it first (``"0"`` replays all retained events).
        """
        return AsyncEventStream(
            astream_lines(self._http, ops.stream_events(sandbox_id, types, named, last_event_id))
        )

    # --- API keys (admin) -----------------------------------------------------

    async def list_api_keys(self) -> List[APIKey]:
        """API keys, without their secrets."""
        return await send_async(self._http, ops.list_api_keys())

    async def create_api_key(
        self,
        role: str,
        *,
        tenant_id: Optional[str] = None,
        owner_id: Optional[str] = None,
        description: Optional[str] = None,
        expires_in: Optional[str] = None,
    ) -> APIKey:
        """Create an API key; its secret is in ``.key``, shown only this once."""
        call = ops.create_api_key(role, tenant_id, owner_id, description, expires_in)
        return await send_async(self._http, call)

    async def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key."""
        await send_async(self._http, ops.revoke_api_key(key_id))

    # --- lifecycle ----------------------------------------------------------------

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
