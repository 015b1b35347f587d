"""Offline tests: error mapping, stream parsing, and 0.1.x compatibility of names."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import json
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Type

import httpx
import pytest

import stacyvm
from stacyvm import AsyncClient, AsyncSandbox, Client, Sandbox, Template
from stacyvm.exceptions import error_from_response, handle_response
from stacyvm.streaming import SSEParser, iter_ndjson, parse_frame

SB = "sb-0123456789abcdef01234567"


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client("http://sdk.test", transport=httpx.MockTransport(handler))


def _aclient(handler: Callable[[httpx.Request], httpx.Response]) -> AsyncClient:
    return AsyncClient("http://sdk.test", transport=httpx.MockTransport(handler))


# --- error mapping: status first, then envelope code --------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "BAD_REQUEST", stacyvm.BadRequestError),
        (400, "UNSUPPORTED_VERSION", stacyvm.UnsupportedVersionError),
        (401, "UNAUTHORIZED", stacyvm.UnauthorizedError),
        (403, "FORBIDDEN", stacyvm.ForbiddenError),
        (404, "NOT_FOUND", stacyvm.SandboxNotFound),
        (405, "METHOD_NOT_ALLOWED", stacyvm.MethodNotAllowedError),
        (408, "TIMEOUT", stacyvm.ExecTimeoutError),
        (409, "CONFLICT", stacyvm.ConflictError),
        (413, "PAYLOAD_TOO_LARGE", stacyvm.PayloadTooLargeError),
        (415, "UNSUPPORTED_MEDIA_TYPE", stacyvm.UnsupportedMediaTypeError),
        (422, "SETUP_FAILED", stacyvm.SetupFailedError),
        (429, "RESOURCE_LIMIT", stacyvm.ResourceLimitError),
        (500, "INTERNAL_ERROR", stacyvm.InternalServerError),
        (501, "NOT_IMPLEMENTED", stacyvm.ServerNotImplementedError),
        (502, "PREVIEW_UNREACHABLE", stacyvm.PreviewUnreachableError),
        (503, "UNAVAILABLE", stacyvm.UnavailableError),
        (503, "WORKER_UNAVAILABLE", stacyvm.WorkerUnavailableError),
        # the status decides the family: a code from another family does not move it
        (503, "TIMEOUT", stacyvm.ProviderError),
        (400, "WORKER_UNAVAILABLE", stacyvm.BadRequestError),
        (504, "", stacyvm.ProviderError),
        (418, "TEAPOT", stacyvm.StacyVMError),
    ],
)
def test_error_class_by_status_then_code(status: int, code: str, expected: Type[Exception]) -> None:
    response = httpx.Response(
        status,
        json={"code": code, "message": "boom"},
        headers={"X-Request-ID": "req-1", "Retry-After": "7"},
    )
    err = error_from_response(response, SB)
    assert type(err) is expected
    assert isinstance(err, stacyvm.StacyVMError)
    assert err.status_code == status and err.request_id == "req-1"
    assert err.message == "boom" and str(err) == "boom"
    assert err.code == (code or None)
    if status >= 500:
        assert isinstance(err, stacyvm.ProviderError)  # what 0.1.x callers catch
    if status == 404:
        assert isinstance(err, stacyvm.SandboxNotFound) and err.sandbox_id == SB
    if status == 429:
        assert isinstance(err, stacyvm.ResourceLimitError) and err.retry_after == 7.0


def test_error_without_envelope() -> None:
    err = error_from_response(httpx.Response(502, text="Bad Gateway from proxy"))
    assert type(err) is stacyvm.ProviderError and err.message == "Bad Gateway from proxy"
    unauthorized = error_from_response(httpx.Response(401))
    assert unauthorized.code == "UNAUTHORIZED" and unauthorized.message
    not_found = error_from_response(httpx.Response(404, text=""))
    assert isinstance(not_found, stacyvm.SandboxNotFound) and not_found.sandbox_id is None


def test_handle_response_is_kept() -> None:
    handle_response(httpx.Response(200, json={}))
    with pytest.raises(stacyvm.ConflictError):
        handle_response(httpx.Response(409, json={"code": "CONFLICT", "message": "dup"}))


def test_sandbox_not_found_keeps_its_0_1_signature() -> None:
    err = stacyvm.SandboxNotFound("sb-x")
    assert err.sandbox_id == "sb-x" and err.code == "NOT_FOUND" and "sb-x" in str(err)
    assert stacyvm.NotFoundError is stacyvm.SandboxNotFound


def test_every_method_maps_errors_and_bad_bodies() -> None:
    client = _client(lambda r: httpx.Response(404, json={"code": "NOT_FOUND", "message": "gone"}))
    with pytest.raises(stacyvm.SandboxNotFound) as info:
        client.get(SB)
    assert info.value.sandbox_id == SB and info.value.message == "gone"
    with pytest.raises(stacyvm.SandboxNotFound) as info2:
        client.templates.get("missing")
    assert info2.value.sandbox_id is None

    garbage = _client(lambda r: httpx.Response(200, text="<html>not json</html>"))
    with pytest.raises(stacyvm.InvalidResponseError):
        garbage.health()
    with pytest.raises(stacyvm.InvalidResponseError):
        garbage.spawn()


def test_timeouts_are_wrapped() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(stacyvm.ClientTimeoutError) as info:
        _client(slow).health()
    assert isinstance(info.value, stacyvm.ConnectionError)


def test_invalid_url_is_wrapped() -> None:
    with pytest.raises(stacyvm.ConnectionError):
        Client("http://[invalid", timeout=1).health()


# --- streams ---------------------------------------------------------------------------------

NOISY = [
    "",
    '{"stream":"stdout","data":"a"}',
    "   ",
    "not json at all",
    "[1, 2]",
    '{"stream":"stdout","da',
    '{"stream":"stderr","data":"b"}',
    "",
    '{"stream":"exit","exit_code":3,"duration":"1ms","timed_out":true,'
    '"error":{"code":"TIMEOUT","message":"exec timeout"}}',
]


def _ndjson(lines: List[str], status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    body = "".join(line + "\n" for line in lines)
    return lambda r: httpx.Response(status, text=body)


def test_parse_frame() -> None:
    assert parse_frame("") is None and parse_frame("  \r") is None
    assert parse_frame("junk") is None and parse_frame('"str"') is None
    assert parse_frame(' {"stream":"stdout","data":"x"} ') == {"stream": "stdout", "data": "x"}


def test_exec_stream_skips_keepalives_and_junk() -> None:
    sb = Sandbox(_client(_ndjson(NOISY))._http, SB)
    stream = sb.exec_stream("x")
    assert [(c.stream, c.data) for c in stream] == [("stdout", "a"), ("stderr", "b")]
    assert stream.exit == stacyvm.ExecExit(
        exit_code=3, duration="1ms", timed_out=True,
        error=stacyvm.ErrorDetail(code="TIMEOUT", message="exec timeout"),
    )


async def test_async_exec_stream_skips_keepalives_and_junk() -> None:
    sb = AsyncSandbox(_aclient(_ndjson(NOISY))._http, SB)
    stream = sb.exec_stream("x")
    assert [(c.stream, c.data) async for c in stream] == [("stdout", "a"), ("stderr", "b")]
    assert stream.exit is not None and stream.exit.exit_code == 3


def test_stream_without_exit_frame_raises() -> None:
    sb = Sandbox(_client(_ndjson(['{"stream":"stdout","data":"a"}']))._http, SB)
    stream = sb.exec_stream("x")
    assert next(stream).data == "a"
    with pytest.raises(stacyvm.StreamError):
        next(stream)
    logs = Sandbox(_client(_ndjson([]))._http, SB).stream_logs()
    with pytest.raises(stacyvm.StreamError):
        list(logs)


async def test_async_stream_without_exit_frame_raises() -> None:
    sb = AsyncSandbox(_aclient(_ndjson(['{"stream":"stdout","data":"a"}']))._http, SB)
    with pytest.raises(stacyvm.StreamError):
        async for _ in sb.exec_stream("x"):
            pass


def test_stream_error_status_raises_typed_error() -> None:
    envelope = [json.dumps({"code": "WORKER_UNAVAILABLE", "message": "worker lost"})]
    sb = Sandbox(_client(_ndjson(envelope, status=503))._http, SB)
    with pytest.raises(stacyvm.WorkerUnavailableError) as info:
        list(sb.exec_stream("x"))
    assert info.value.message == "worker lost"


async def test_async_stream_error_status_raises_typed_error() -> None:
    envelope = [json.dumps({"code": "NOT_FOUND", "message": "sandbox not found"})]
    sb = AsyncSandbox(_aclient(_ndjson(envelope, status=404))._http, SB)
    with pytest.raises(stacyvm.SandboxNotFound) as info:
        async for _ in sb.exec_stream("x"):
            pass
    assert info.value.sandbox_id == SB


def _broken_stream() -> Iterator[bytes]:
    yield b'{"stream":"stdout","data":"a"}\n'
    raise httpx.ReadError("connection reset")


def test_transport_error_mid_stream_is_wrapped() -> None:
    sb = Sandbox(_client(lambda r: httpx.Response(200, content=_broken_stream()))._http, SB)
    stream = sb.exec_stream("x")
    assert next(stream).data == "a"
    with pytest.raises(stacyvm.ConnectionError):
        next(stream)


def test_iter_ndjson_helper_is_kept() -> None:
    response = httpx.Response(200, text="\n".join(NOISY))
    chunks = list(iter_ndjson(response))
    assert [c.stream for c in chunks] == ["stdout", "stderr", "exit"]


def test_sse_parser() -> None:
    parser = SSEParser()
    lines = [
        "retry: 3000", "", ": ping", "id: 7", 'data: {"id":"evt-7",', 'data: "type":"a.b"}', "",
        "data: not json", "", "event: sandbox.created", 'data: {"id":"evt-8","type":"x"}', "",
    ]
    events = [e for e in map(parser.feed, lines) if e is not None]
    assert [(e.id, e.type) for e in events] == [("evt-7", "a.b"), ("evt-8", "x")]
    assert parser.last_event_id == "7"


# --- behaviour that needs a recording transport -------------------------------------------


def test_template_save_replaces_on_conflict() -> None:
    seen: List[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(409, json={"code": "CONFLICT", "message": "exists"})
        return httpx.Response(200, json={**json.loads(request.content), "version": 2})

    saved = _client(handler).templates.save(Template(name="py", image="python:3.12"))
    assert seen == ["POST /api/v1/templates", "PUT /api/v1/templates/py"]
    assert saved.version == 2 and saved.image == "python:3.12"


def test_ready_returns_body_on_503() -> None:
    body = {"status": "not_ready", "version": "v", "uptime": "1s", "providers": [],
            "ready_providers": 0, "total_providers": 0, "checks": {"store": "down", "migrations": "ok"}}
    assert _client(lambda r: httpx.Response(503, json=body)).get_ready() == body


def test_path_segments_are_encoded() -> None:
    paths: List[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path)
        return httpx.Response(200, json={"status": "deleted"})

    _client(handler).delete_quota("a b/c")
    assert paths == [b"/api/v1/quotas/a%20b%2Fc"]


def test_exec_truncation_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"exit_code": 0, "stdout": "x", "stderr": "", "duration": "1ms"},
            headers={"X-Stacyvm-Stdout-Truncated": "true"},
        )

    result = Sandbox(_client(handler)._http, SB).exec("yes")
    assert result.stdout_truncated and not result.stderr_truncated


def test_sends_user_agent_and_admin_key() -> None:
    headers: List[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        return httpx.Response(200, json={"status": "ok", "version": "v", "uptime": "1s"})

    Client("http://sdk.test", admin_api_key="adm", headers={"X-Request-ID": "r1"},
           transport=httpx.MockTransport(handler)).health()
    assert headers[0]["User-Agent"] == f"stacyvm-python/{stacyvm.__version__}"
    assert headers[0]["X-Admin-API-Key"] == "adm" and headers[0]["X-Request-ID"] == "r1"
    assert "X-API-Key" not in headers[0]


def test_models_ignore_unknown_fields() -> None:
    info = stacyvm.SandboxInfo.from_dict({"id": SB, "state": "running", "provider": "mock",
                                          "image": "alpine", "future_field": 1})
    assert info.id == SB and info.memory_mb == 512 and info.preview_domain == "localhost"
    decision = stacyvm.SpawnAdmissionDecision.from_dict({"allowed": True, "queueable": False, "hint": "x"})
    assert decision.allowed and decision.max_ttl == ""


def test_sandbox_without_info_and_preview_url() -> None:
    sb = Sandbox(_client(lambda r: httpx.Response(500))._http, SB)
    assert sb.state == "unknown" and sb.info.id == SB
    assert sb.get_preview_url(3000) == f"http://3000-{SB}.localhost"
    token = Sandbox(sb._http, SB, {"id": SB, "preview_token": "tok", "preview_domain": "example.com"})
    assert token.preview_token == "tok" and token.get_preview_url(80) == f"http://80-{SB}.example.com"


# --- 0.1.x compatibility ------------------------------------------------------------------

#: Public signatures of the published 0.1.x SDK (parameter names in order).
SIGNATURES_0_1: Dict[str, List[str]] = {
    "Client.__init__": ["self", "base_url", "api_key", "user_id", "timeout"],
    "Client.spawn": [
        "self", "image", "provider", "memory_mb", "vcpus", "ttl", "owner_id", "template", "metadata"],
    "Client.admission": ["self", "image", "provider", "memory_mb", "vcpus", "ttl", "owner_id", "metadata"],
    "Client.get": ["self", "sandbox_id"],
    "Client.list": ["self"],
    "Client.spawn_template": ["self", "template_name"],
    "Client.prune": ["self"],
    "Client.pool_status": ["self"],
    "Client.quota_summary": ["self"],
    "Client.health": ["self"],
    "Client.providers": ["self"],
    "Client.close": ["self"],
    "Sandbox.__init__": ["self", "http", "sandbox_id", "info"],
    "Sandbox.exec": ["self", "command", "args", "mode", "env", "workdir", "timeout"],
    "Sandbox.exec_stream": ["self", "command", "args", "mode", "env", "workdir"],
    "Sandbox.write_file": ["self", "path", "content", "mode"],
    "Sandbox.read_file": ["self", "path"],
    "Sandbox.list_files": ["self", "path"],
    "Sandbox.delete_file": ["self", "path", "recursive"],
    "Sandbox.move_file": ["self", "old_path", "new_path"],
    "Sandbox.chmod_file": ["self", "path", "mode"],
    "Sandbox.stat_file": ["self", "path"],
    "Sandbox.glob_files": ["self", "pattern"],
    "Sandbox.extend_ttl": ["self", "ttl"],
    "Sandbox.destroy": ["self"],
    "Sandbox.refresh": ["self"],
    "Sandbox.get_preview_url": ["self", "port"],
    "TemplateManager.__init__": ["self", "http"],
    "TemplateManager.list": ["self"],
    "TemplateManager.get": ["self", "name"],
    "TemplateManager.save": ["self", "template"],
    "TemplateManager.delete": ["self", "name"],
    "ProviderManager.__init__": ["self", "http"],
    "ProviderManager.list": ["self"],
    "ProviderManager.test": ["self"],
}

TWINS = {"Client": "AsyncClient", "Sandbox": "AsyncSandbox", "TemplateManager": "AsyncTemplateManager"}


def _signature_matches(func: Callable, names: List[str]) -> None:
    params = list(inspect.signature(func).parameters.values())
    assert [p.name for p in params[: len(names)]] == names
    for extra in params[len(names):]:  # anything new is optional, so old calls still work
        assert extra.default is not inspect.Parameter.empty or extra.kind is inspect.Parameter.VAR_KEYWORD
    for p in params[: len(names)]:
        assert p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)


@pytest.mark.parametrize("qualname", sorted(SIGNATURES_0_1))
def test_0_1_signatures_are_kept(qualname: str) -> None:
    cls_name, method = qualname.split(".")
    _signature_matches(getattr(getattr(stacyvm, cls_name), method), SIGNATURES_0_1[qualname])
    twin = TWINS.get(cls_name)
    if twin and hasattr(getattr(stacyvm, twin), method):
        _signature_matches(getattr(getattr(stacyvm, twin), method), SIGNATURES_0_1[qualname])


def test_0_1_names_are_importable() -> None:
    for module, names in {
        "stacyvm": ["Client", "Sandbox", "AsyncClient", "AsyncSandbox", "ExecResult", "QuotaSummary",
                    "SandboxInfo", "SpawnAdmissionDecision", "Template", "TemplateManager", "StreamChunk",
                    "StacyVMError", "SandboxNotFound", "ProviderError", "ConnectionError", "__version__"],
        "stacyvm.client": ["Client"],
        "stacyvm.async_client": ["AsyncClient"],
        "stacyvm.sandbox": ["Sandbox"],
        "stacyvm.async_sandbox": ["AsyncSandbox"],
        "stacyvm.models": ["ExecResult", "SandboxInfo", "SpawnAdmissionDecision", "QuotaSummary", "Template"],
        "stacyvm.exceptions": ["StacyVMError", "SandboxNotFound", "ProviderError", "ConnectionError",
                               "handle_response"],
        "stacyvm.streaming": ["StreamChunk", "iter_ndjson"],
        "stacyvm.templates": ["TemplateManager"],
        "stacyvm.providers": ["ProviderManager"],
    }.items():
        mod = importlib.import_module(module)
        missing = [n for n in names if not hasattr(mod, n)]
        assert not missing, f"{module} lacks {missing}"
    assert set(stacyvm.__all__) <= set(dir(stacyvm))


def test_0_1_dataclass_fields_are_kept() -> None:
    def fields(cls: type) -> List[str]:
        return [f.name for f in dataclasses.fields(cls)]

    assert fields(stacyvm.ExecResult)[:4] == ["exit_code", "stdout", "stderr", "duration"]
    assert fields(stacyvm.SandboxInfo)[:10] == ["id", "state", "provider", "image", "memory_mb", "vcpus",
                                                "created_at", "expires_at", "metadata", "preview_domain"]
    assert fields(stacyvm.SpawnAdmissionDecision) == [
        "allowed", "queueable", "reason", "active_sandboxes", "max_sandboxes",
        "active_owner_sandboxes", "max_owner_sandboxes", "max_ttl"]
    assert fields(stacyvm.QuotaSummary) == [
        "total", "with_max_sandboxes", "with_max_ttl", "with_max_exec_timeout"]
    assert fields(stacyvm.Template)[:7] == [
        "name", "image", "memory_mb", "vcpus", "ttl", "provider", "metadata"]
    assert fields(stacyvm.StreamChunk) == ["stream", "data"]


def _installed_version() -> Optional[str]:
    try:
        return importlib.metadata.version("stacyvm")
    except importlib.metadata.PackageNotFoundError:
        return None


@pytest.mark.skipif(_installed_version() is None, reason="stacyvm is not installed (run from source)")
def test_version_and_typing_marker() -> None:
    assert stacyvm.__version__ == _installed_version()
    assert (Path(stacyvm.__file__).parent / "py.typed").is_file()
