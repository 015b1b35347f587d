"""Live tests of :class:`stacyvm.Client` against a real ``stacyvm serve``."""

from __future__ import annotations

import socket

import pytest
from conftest import Server, unique

import stacyvm
from stacyvm import Client, Template

# --- system -------------------------------------------------------------------------


def test_system_documents(client: Client) -> None:
    health = client.health()
    assert health["status"] == "ok" and health["version"] and health["uptime"]
    assert client.get_live()["status"] == "alive"
    ready = client.get_ready()
    assert ready["status"] in ("ready", "not_ready")
    assert ready["checks"]["store"] == "ok"
    assert "sandboxes" in client.get_metrics()
    assert "# TYPE stacyvm_uptime_seconds gauge" in client.get_prometheus_metrics()
    assert client.pool_status() == {"enabled": False}
    doc = client.get_openapi_document()
    assert doc["openapi"].startswith("3.1")
    assert client.get_swagger_document()["paths"].keys() == doc["paths"].keys()


def test_providers(client: Client, admin: Client) -> None:
    providers = client.providers()
    mock = next(p for p in providers if p["name"] == "mock")
    assert mock["healthy"] and mock["default"] and "exec" in mock["capabilities"]
    detail = client.get_provider("mock")
    assert detail["name"] == "mock" and isinstance(detail["config"], dict)
    assert admin.test_providers()["mock"] is True
    with pytest.raises(stacyvm.ForbiddenError) as info:
        client.test_providers()  # needs operator:*
    assert info.value.status_code == 403 and info.value.code == "FORBIDDEN"
    with pytest.raises(stacyvm.NotFoundError):
        client.get_provider("no-such-provider")


# --- sandboxes ----------------------------------------------------------------------


def test_spawn_get_list_destroy(client: Client) -> None:
    sb = client.spawn(memory_mb=256, vcpus=1, ttl="10m", metadata={"who": "test"})
    try:
        assert sb.id.startswith("sb-") and sb.state == "running"
        assert sb.provider == "mock" and sb.image == "alpine:latest"
        assert sb.info.memory_mb == 256 and sb.info.metadata == {"who": "test"}
        again = client.get(sb.id)
        assert again.id == sb.id and again.info.worker_id == "local"
        listed = client.list()
        assert sb.id in [s.id for s in listed] and listed.next_cursor is None
        info = next(s for s in listed if s.id == sb.id)
        assert isinstance(info, stacyvm.SandboxInfo) and info.preview_domain
        assert [s.id for s in client.list(state="running", provider="mock") if s.id == sb.id]
        assert not [s for s in client.list(state="expired") if s.id == sb.id]
    finally:
        sb.destroy()
    assert sb.id not in [s.id for s in client.list()]
    with pytest.raises(stacyvm.SandboxNotFound) as info2:
        client.get(sb.id)
    assert info2.value.sandbox_id == sb.id and info2.value.code == "NOT_FOUND"


def test_list_pages(client: Client) -> None:
    a, b = client.spawn(), client.spawn()
    try:
        seen: list = []
        cursor = None
        for _ in range(100):
            page = client.list(limit=1, cursor=cursor)
            assert len(page) <= 1
            seen += [s.id for s in page]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert {a.id, b.id} <= set(seen)
    finally:
        a.destroy()
        b.destroy()


def test_admin_lists_destroyed(admin: Client, client: Client) -> None:
    sb = client.spawn()
    sb.destroy()
    assert sb.id in [s.id for s in admin.list(include_destroyed=True)]


def test_spawn_idempotency_key(client: Client) -> None:
    key = unique("idem")
    first = client.spawn(idempotency_key=key)
    try:
        second = client.spawn(idempotency_key=key)
        assert second.id == first.id
        with pytest.raises(stacyvm.ConflictError):
            client.spawn(ttl="5m", idempotency_key=key)  # same key, other body
    finally:
        first.destroy()


def test_spawn_with_user_header_sets_owner(server: Server) -> None:
    owner = unique("owner")
    with Client(server.url, api_key=server.admin_key, user_id=owner) as acting:
        with acting.spawn() as sb:
            assert sb.info.owner_id == owner
            assert [s.id for s in acting.list(owner_id=owner)] == [sb.id]


def test_admission(client: Client) -> None:
    decision = client.admission(image="alpine:latest", ttl="10m")
    assert isinstance(decision, stacyvm.SpawnAdmissionDecision)
    assert decision.allowed and not decision.queueable and decision.reason == ""
    assert decision.max_ttl == "24h0m0s"
    over = client.admission(ttl="48h")
    assert not over.allowed and over.reason == "max_ttl"
    with pytest.raises(stacyvm.BadRequestError):
        client.admission(ttl="not-a-duration")


def test_prune(client: Client) -> None:
    assert client.prune() >= 0


def test_spawn_errors(client: Client) -> None:
    with pytest.raises(stacyvm.BadRequestError) as info:
        client.spawn(ttl="-1m")
    assert info.value.code == "BAD_REQUEST" and info.value.request_id
    with pytest.raises(stacyvm.BadRequestError):
        client.spawn(provider="no-such-provider")
    with pytest.raises(stacyvm.ResourceLimitError) as limit:
        client.spawn(ttl="100h")
    assert limit.value.status_code == 429 and limit.value.code == "RESOURCE_LIMIT"
    with pytest.raises(stacyvm.SandboxNotFound):
        client.get("sb-nonexistent")


# --- templates ----------------------------------------------------------------------


def test_templates(client: Client) -> None:
    name = unique("tpl")
    created = client.templates.save(
        Template(name=name, image="alpine:latest", memory_mb=256, ttl="1h", metadata={"lang": "sh"})
    )
    try:
        assert created.name == name and created.version == 1 and created.ttl == "1h"
        assert created.created_at
        # save() on an existing name replaces it (create-or-update, as in 0.1.x)
        updated = client.templates.save(Template(name=name, image="alpine:3", description="v2"))
        assert updated.version == 2 and updated.image == "alpine:3" and updated.description == "v2"
        replaced = client.templates.replace(
            Template(name=name, image="alpine:latest", env={"GREETING": "hi"}, metadata={"k": "v"})
        )
        assert replaced.version == 3 and replaced.env == {"GREETING": "hi"}
        assert replaced.created_at == created.created_at
        got = client.templates.get(name)
        assert got == replaced
        assert name in [t.name for t in client.templates.list()]
        page = client.templates.list(limit=1)
        assert len(page) == 1 and isinstance(page, stacyvm.Page)

        with client.spawn_template(name) as sb:
            assert sb.info.template == name and sb.info.metadata["template"] == name
            assert sb.exec("echo $GREETING").stdout == "hi\n"
        with client.spawn_template(name, ttl="5m", metadata={"run": "2"}) as sb2:
            assert sb2.info.metadata["run"] == "2"
        with client.spawn(template=name) as sb3:
            assert sb3.info.template == name
    finally:
        client.templates.delete(name)
    with pytest.raises(stacyvm.NotFoundError):
        client.templates.get(name)
    with pytest.raises((stacyvm.NotFoundError, stacyvm.BadRequestError)):
        client.spawn_template(name)  # the server answers 400 "unknown template"


def test_template_setup_failure(client: Client) -> None:
    name = unique("tpl-setup")
    client.templates.save(Template(name=name, image="alpine:latest", setup=["exit 3"]))
    try:
        with pytest.raises(stacyvm.SetupFailedError) as info:
            client.spawn_template(name)
        assert info.value.status_code == 422
    finally:
        client.templates.delete(name)


# --- quotas ---------------------------------------------------------------------------


def test_quotas(admin: Client, client: Client) -> None:
    owner = unique("quota-owner")
    before = client.quota_summary()
    assert isinstance(before, stacyvm.QuotaSummary)
    quota = admin.put_quota(owner, max_sandboxes=2, max_ttl="2h")
    try:
        assert quota.owner_id == owner and quota.max_sandboxes == 2 and quota.max_ttl == "2h0m0s"
        assert admin.get_quota(owner) == quota
        assert owner in [q.owner_id for q in admin.list_quotas()]
        page = admin.list_quotas(limit=1)
        assert len(page) == 1
        usage = admin.get_quota_usage(owner)
        assert usage.quota_configured and usage.max_sandboxes == 2 and usage.active_sandboxes == 0
        after = client.quota_summary()
        assert after.total == before.total + 1 and after.with_max_ttl == before.with_max_ttl + 1
        with pytest.raises(stacyvm.ForbiddenError):
            client.put_quota(owner, max_sandboxes=5)  # admin only
    finally:
        admin.delete_quota(owner)
    with pytest.raises(stacyvm.NotFoundError):
        admin.get_quota(owner)


# --- API keys ---------------------------------------------------------------------------


def test_api_keys(server: Server, admin: Client) -> None:
    created = admin.create_api_key("viewer", description="read only", expires_in="1h")
    assert created.key and created.key.startswith("svmk_") and created.role == "viewer"
    listed = {k.id: k for k in admin.list_api_keys()}
    assert created.id in listed and listed[created.id].key is None
    with Client(server.url, api_key=created.key) as viewer:
        assert viewer.list() is not None
        with pytest.raises(stacyvm.ForbiddenError):
            viewer.spawn()
    admin.revoke_api_key(created.id)
    with Client(server.url, api_key=created.key) as revoked:
        with pytest.raises(stacyvm.UnauthorizedError) as info:
            revoked.list()
    assert info.value.status_code == 401 and info.value.code == "UNAUTHORIZED"


# --- events -------------------------------------------------------------------------------


def test_stream_events(client: Client) -> None:
    sb = client.spawn()
    sb.destroy()
    types = []
    with client.stream_events(sandbox_id=sb.id, types="sandbox.*", last_event_id="0") as events:
        for event in events:
            assert isinstance(event, stacyvm.Event) and event.sandbox_id == sb.id
            types.append(event.type)
            if event.type == "sandbox.destroyed":
                break
        assert events.last_event_id
    assert types[0] == "sandbox.created" and types[-1] == "sandbox.destroyed"


# --- auth and connection errors -----------------------------------------------------------


def test_missing_or_bad_key(server: Server) -> None:
    with Client(server.url) as anonymous:
        assert anonymous.health()["status"] == "ok"  # public
        with pytest.raises(stacyvm.UnauthorizedError):
            anonymous.list()
    with Client(server.url, api_key="wrong") as wrong:
        with pytest.raises(stacyvm.UnauthorizedError):
            wrong.spawn()


def test_connection_errors_are_wrapped() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        with Client(f"http://127.0.0.1:{port}", timeout=2) as dead:
            for call in (dead.health, dead.list, dead.spawn, dead.templates.list, dead.quota_summary):
                with pytest.raises(stacyvm.ConnectionError):
                    call()
            sb = stacyvm.Sandbox(dead._http, "sb-0123456789abcdef01234567")
            with pytest.raises(stacyvm.ConnectionError):
                sb.exec("true")
            with pytest.raises(stacyvm.ConnectionError):
                list(sb.exec_stream("true"))
            with pytest.raises(stacyvm.ConnectionError):
                next(iter(dead.stream_events()))


def test_client_context_manager_closes(server: Server) -> None:
    c = Client(server.url, api_key=server.api_key)
    with c as entered:
        assert entered is c
    assert c._http.is_closed
    c2 = Client(server.url)
    c2.close()
    assert c2._http.is_closed
