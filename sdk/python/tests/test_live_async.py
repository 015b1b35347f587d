"""Live tests of :class:`stacyvm.AsyncClient` and :class:`stacyvm.AsyncSandbox`."""

from __future__ import annotations

import asyncio
import socket

import pytest
from conftest import Server, unique

import stacyvm
from stacyvm import AsyncClient, AsyncSandbox, Template


async def test_system_and_providers(aclient: AsyncClient, aadmin: AsyncClient) -> None:
    assert (await aclient.health())["status"] == "ok"
    assert (await aclient.get_live())["status"] == "alive"
    assert (await aclient.get_ready())["checks"]["migrations"] == "ok"
    assert "uptime" in await aclient.get_metrics()
    assert "stacyvm_uptime_seconds" in await aclient.get_prometheus_metrics()
    assert await aclient.pool_status() == {"enabled": False}
    assert "/api/v1/health" in (await aclient.get_openapi_document())["paths"]
    assert "/api/v1/health" in (await aclient.get_swagger_document())["paths"]
    assert "mock" in [p["name"] for p in await aclient.providers()]
    assert (await aclient.get_provider("mock"))["default"] is True
    assert (await aadmin.test_providers()) == {"mock": True}


async def test_sandbox_lifecycle(aclient: AsyncClient) -> None:
    sb = await aclient.spawn(ttl="10m", metadata={"async": "yes"}, idempotency_key=unique("idem"))
    assert isinstance(sb, AsyncSandbox) and sb.state == "running"
    assert (await aclient.get(sb.id)).info.metadata == {"async": "yes"}
    assert sb.id in [s.id for s in await aclient.list()]
    page = await aclient.list(state="running", limit=1)
    assert len(page) == 1
    info = await sb.extend_ttl("1h")
    assert (await sb.extend("5m", mode="add")).expires_at > info.expires_at
    assert (await sb.refresh()).id == sb.id
    assert isinstance(await sb.stats(), stacyvm.SandboxStats)
    assert sb.get_preview_url(8080).startswith(f"http://8080-{sb.id}.")
    await sb.destroy()
    with pytest.raises(stacyvm.SandboxNotFound):
        await aclient.get(sb.id)
    assert await aclient.prune() >= 0
    decision = await aclient.admission(ttl="48h")
    assert not decision.allowed and decision.reason == "max_ttl"


async def test_exec_and_stream(aclient: AsyncClient) -> None:
    async with await aclient.spawn() as sb:
        result = await sb.exec("echo $A; exit 2", env={"A": "a"})
        assert (result.exit_code, result.stdout) == (2, "a\n")
        stream = sb.exec_stream("echo one; echo two >&2")
        chunks = [(c.stream, c.data) async for c in stream]
        assert chunks == [("stdout", "one\n"), ("stderr", "two\n")]
        assert stream.exit is not None and stream.exit.exit_code == 0
        async with sb.exec_stream("sleep 5", timeout="200ms") as slow:
            exit_frame = await slow.wait()
        assert exit_frame.timed_out and exit_frame.exit_code == -1
        with pytest.raises(stacyvm.ExecTimeoutError):
            await sb.exec("sleep 5", timeout="200ms")
        with pytest.raises(stacyvm.BadRequestError):
            async for _ in sb.exec_stream("true", mode="bogus"):
                pass
    # leaving the block destroyed it
    with pytest.raises(stacyvm.SandboxNotFound):
        await sb.exec("true")


async def test_files(aclient: AsyncClient) -> None:
    async with await aclient.spawn() as sb:
        await sb.write_file("/workspace/a.txt", "text")
        assert await sb.read_file("/workspace/a.txt") == "text"
        assert await sb.write_bytes("/workspace/b.bin", b"\x00\x01\xff", mode="0600") == 3
        assert await sb.read_bytes("/workspace/b.bin") == b"\x00\x01\xff"
        assert [e["name"] for e in await sb.list_files("/workspace")] == ["a.txt", "b.bin"]
        assert (await sb.stat_file("/workspace/b.bin"))["mode"] == "0600"
        assert await sb.glob_files("/workspace/*.txt") == ["/workspace/a.txt"]
        await sb.move_file("/workspace/a.txt", "/workspace/c.txt")
        await sb.chmod_file("/workspace/c.txt", "700")
        assert (await sb.stat_file("/workspace/c.txt"))["mode"] == "0700"
        await sb.write_file("/workspace/d/e.txt", "e")
        await sb.delete_file("/workspace/c.txt")
        await sb.delete_file("/workspace/d", recursive=True)
        assert await sb.glob_files("/workspace/*") == ["/workspace/b.bin"]
        with pytest.raises(stacyvm.NotFoundError):
            await sb.read_file("/workspace/c.txt")


async def test_logs(aclient: AsyncClient) -> None:
    sb = await aclient.spawn()
    assert await sb.logs(lines=2)
    logs = sb.stream_logs(lines=1)
    first = await logs.__anext__()
    assert isinstance(first, str)

    async def destroy_soon() -> None:
        await asyncio.sleep(0.2)
        await sb.destroy()

    destroyer = asyncio.create_task(destroy_soon())
    rest = [line async for line in logs]
    await destroyer
    assert all(isinstance(line, str) for line in rest)
    assert logs.exit is not None
    await logs.aclose()


async def test_templates(aclient: AsyncClient) -> None:
    name = unique("atpl")
    created = await aclient.templates.save(Template(name=name, image="alpine:latest", ttl="1h"))
    try:
        assert created.version == 1
        assert (await aclient.templates.save(Template(name=name, image="alpine:3"))).version == 2
        replaced = await aclient.templates.replace(Template(name=name, image="alpine:latest", vcpus=2))
        assert replaced.vcpus == 2 and replaced.version == 3
        assert (await aclient.templates.get(name)) == replaced
        assert name in [t.name for t in await aclient.templates.list()]
        assert len(await aclient.templates.list(limit=1)) == 1
        async with await aclient.spawn_template(name, ttl="5m") as sb:
            assert sb.info.template == name
    finally:
        await aclient.templates.delete(name)
    with pytest.raises(stacyvm.NotFoundError):
        await aclient.templates.get(name)


async def test_quotas_and_api_keys(server: Server, aadmin: AsyncClient, aclient: AsyncClient) -> None:
    owner = unique("aowner")
    quota = await aadmin.put_quota(owner, max_sandboxes=1, max_exec_timeout="30s")
    try:
        assert quota.max_exec_timeout == "30s"
        assert await aadmin.get_quota(owner) == quota
        assert owner in [q.owner_id for q in await aadmin.list_quotas()]
        assert (await aadmin.get_quota_usage(owner)).max_sandboxes == 1
        assert (await aclient.quota_summary()).total >= 1
    finally:
        await aadmin.delete_quota(owner)

    key = await aadmin.create_api_key("api", owner_id=owner, description="async")
    assert key.owner_id == owner and key.key
    assert key.id in [k.id for k in await aadmin.list_api_keys()]
    async with AsyncClient(server.url, api_key=key.key) as bound:
        async with await bound.spawn() as sb:
            assert sb.info.owner_id == owner
    await aadmin.revoke_api_key(key.id)
    async with AsyncClient(server.url, api_key=key.key) as revoked:
        with pytest.raises(stacyvm.UnauthorizedError):
            await revoked.list()


async def test_stream_events(aclient: AsyncClient) -> None:
    sb = await aclient.spawn()
    await sb.destroy()
    async with aclient.stream_events(sandbox_id=sb.id, last_event_id="0") as events:
        types = []
        async for event in events:
            types.append(event.type)
            if event.type == "sandbox.destroyed":
                break
    assert types[0] == "sandbox.created"


async def test_connection_errors_are_wrapped() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        async with AsyncClient(url, timeout=2) as dead:
            with pytest.raises(stacyvm.ConnectionError):
                await dead.health()
            with pytest.raises(stacyvm.ConnectionError):
                await dead.spawn()
            with pytest.raises(stacyvm.ConnectionError):
                await dead.templates.list()
            sb = AsyncSandbox(dead._http, "sb-0123456789abcdef01234567")
            with pytest.raises(stacyvm.ConnectionError):
                async for _ in sb.exec_stream("true"):
                    pass
            with pytest.raises(stacyvm.ConnectionError):
                await dead.stream_events().__anext__()


async def test_client_close(server: Server) -> None:
    c = AsyncClient(server.url)
    assert (await c.health())["status"] == "ok"
    await c.close()
    assert c._http.is_closed
