"""Parity: the requests the SDK sends for the shared table sdk/parity/calls.json.

Each case is replayed through ``Client`` and ``AsyncClient`` with an
``httpx.MockTransport`` that records the request and answers the case's canned
response. Compared (README §6 of the spec): method, decoded path and query, the
JSON body after dropping fields equal to the server default, a raw body, and
the headers X-API-Key, X-User-ID, X-Tenant-ID, Idempotency-Key and (with a
body) Content-Type. The same table, answered by a failing transport, checks
that every call wraps connection errors.
"""

from __future__ import annotations

import base64
import inspect
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest

import stacyvm
from stacyvm import AsyncClient, AsyncSandbox, Client, Sandbox, Template

#: The table shared by every SDK (sdk/parity/, beside sdk/python and sdk/js).
TABLE = json.loads((Path(__file__).resolve().parents[2] / "parity" / "calls.json").read_text())
CASES: List[Dict[str, Any]] = TABLE["cases"]
COMPARED_HEADERS = ("X-API-Key", "X-User-ID", "X-Tenant-ID", "Idempotency-Key")


def _decode_arg(value: Any) -> Any:
    if isinstance(value, dict) and "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if isinstance(value, dict) and "$template" in value:
        return Template(**value["$template"])
    return value


def _call_parts(case: Dict[str, Any]) -> tuple:
    spec = case["python"]
    args = [_decode_arg(a) for a in spec["args"]]
    kwargs = {k: _decode_arg(v) for k, v in spec["kwargs"].items()}
    return spec["target"], spec["method"], args, kwargs


def _respond(case: Dict[str, Any]) -> httpx.Response:
    spec = case["response"]
    status = spec.get("status", 200)
    if "json" in spec:
        return httpx.Response(status, json=spec["json"])
    if "ndjson" in spec:
        body = "".join(line + "\n" for line in spec["ndjson"])
        return httpx.Response(status, text=body, headers={"Content-Type": "application/x-ndjson"})
    if "sse" in spec:
        return httpx.Response(status, text=spec["sse"], headers={"Content-Type": "text/event-stream"})
    if "text" in spec:
        return httpx.Response(status, text=spec["text"])
    return httpx.Response(
        status,
        content=base64.b64decode(spec["body_base64"]),
        headers={"Content-Type": "application/octet-stream"},
    )


def _client_options(case: Dict[str, Any]) -> Dict[str, Any]:
    return dict(case.get("client", TABLE["default_client"]))


def _drop_defaults(operation: str, body: Any) -> Any:
    defaults = TABLE["server_defaults"].get(operation, {})
    if not isinstance(body, dict):
        return body
    return {k: v for k, v in body.items() if not (k in defaults and defaults[k] == v)}


def _check_request(case: Dict[str, Any], requests: List[httpx.Request]) -> None:
    expected = case["request"]
    assert len(requests) == 1, f"{case['name']}: sent {len(requests)} requests"
    req = requests[0]
    assert req.method == expected["method"]
    assert req.url.path == expected["path"]  # httpx decodes the path
    params = req.url.params  # decoded
    query = {k: v[0] if len(v) == 1 else v for k in params.keys() for v in [params.get_list(k)]}
    assert query == expected["query"]

    content = req.read()
    content_type: Optional[str] = None
    if "body" in expected:
        sent = json.loads(content)
        op = case["operation"]
        assert _drop_defaults(op, sent) == _drop_defaults(op, expected["body"])
        content_type = "application/json"
    elif "body_base64" in expected:
        assert content == base64.b64decode(expected["body_base64"])
        content_type = "application/octet-stream"
    else:
        assert content == b"", f"{case['name']}: unexpected body {content!r}"
    assert req.headers.get("Content-Type") == content_type

    for name in COMPARED_HEADERS:
        assert req.headers.get(name) == expected["headers"].get(name), f"header {name}"


def _recording_transport(case: Dict[str, Any], requests: List[httpx.Request]) -> Callable:
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)  # MockTransport has read the body already
        return _respond(case)

    return handler


def _consume(result: Any) -> Any:
    """Drain streams (events: only the first) so their request is sent."""
    if isinstance(result, stacyvm.EventStream):
        with result:
            return next(result)
    if isinstance(result, (stacyvm.ExecStream, stacyvm.LogStream)):
        with result:
            items = list(result)
            assert result.exit is not None
            return items
    return result


async def _aconsume(result: Any) -> Any:
    if inspect.isawaitable(result):
        return await result
    if isinstance(result, stacyvm.AsyncEventStream):
        async with result:
            return await result.__anext__()
    if isinstance(result, (stacyvm.AsyncExecStream, stacyvm.AsyncLogStream)):
        async with result:
            items = [item async for item in result]
            assert result.exit is not None
            return items
    return result


def _run_sync(case: Dict[str, Any], transport: httpx.BaseTransport) -> Any:
    target, method, args, kwargs = _call_parts(case)
    with Client("http://sdk.test", transport=transport, **_client_options(case)) as client:
        obj: Any = {
            "client": client,
            "templates": client.templates,
            "sandbox": Sandbox(client._http, TABLE["sandbox_id"]),
        }[target]
        return _consume(getattr(obj, method)(*args, **kwargs))


async def _run_async(case: Dict[str, Any], transport: httpx.AsyncBaseTransport) -> Any:
    target, method, args, kwargs = _call_parts(case)
    async with AsyncClient("http://sdk.test", transport=transport, **_client_options(case)) as client:
        obj: Any = {
            "client": client,
            "templates": client.templates,
            "sandbox": AsyncSandbox(client._http, TABLE["sandbox_id"]),
        }[target]
        return await _aconsume(getattr(obj, method)(*args, **kwargs))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_sync_request(case: Dict[str, Any]) -> None:
    requests: List[httpx.Request] = []
    _run_sync(case, httpx.MockTransport(_recording_transport(case, requests)))
    _check_request(case, requests)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_async_request(case: Dict[str, Any]) -> None:
    requests: List[httpx.Request] = []
    await _run_async(case, httpx.MockTransport(_recording_transport(case, requests)))
    _check_request(case, requests)


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_sync_connection_error_is_wrapped(case: Dict[str, Any]) -> None:
    with pytest.raises(stacyvm.ConnectionError):
        _run_sync(case, httpx.MockTransport(_refuse))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_async_connection_error_is_wrapped(case: Dict[str, Any]) -> None:
    with pytest.raises(stacyvm.ConnectionError):
        await _run_async(case, httpx.MockTransport(_refuse))


def test_table_covers_every_operation() -> None:
    """One case or more per operation, except those operation-map.json excludes from this SDK."""
    doc = json.loads((Path(__file__).resolve().parents[3] / "openapi" / "openapi.json").read_text())
    excluded = json.loads((Path(__file__).resolve().parents[1] / "operation-map.json").read_text())["excluded"]
    operations = {
        op["operationId"]
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    covered = {c["operation"] for c in CASES}
    assert covered <= operations, f"the table names unknown operations {sorted(covered - operations)}"
    assert operations - set(excluded) == covered
