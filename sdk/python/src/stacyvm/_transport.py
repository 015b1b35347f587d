"""Sending requests: one description (:class:`Call`), a sync and an async runner.

Every operation is described once in :mod:`stacyvm._operations` as a
:class:`Call` (method, path, query, body, headers and a parser); the sync and
async clients only execute it. Both runners map error responses to typed
exceptions and wrap every httpx failure in an SDK exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Generic,
    Iterator,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

import httpx

from stacyvm._version import __version__
from stacyvm.exceptions import (
    ClientTimeoutError,
    ConnectionError,
    InvalidResponseError,
    StacyVMError,
    error_from_response,
)

T = TypeVar("T")

USER_AGENT = f"stacyvm-python/{__version__}"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request of the API and how to read its successful response.

    ``json`` is sent as the JSON body when not ``None``; ``content`` as a raw
    body. ``sandbox_id`` names the sandbox a 404 refers to. ``accept`` lists
    non-2xx statuses whose body is still a normal result (``/ready``'s 503).
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Optional[Dict[str, str]] = None
    json: Any = None
    content: Optional[bytes] = None
    headers: Dict[str, str] = field(default_factory=dict)
    sandbox_id: Optional[str] = None
    accept: Tuple[int, ...] = ()

    def request_kwargs(self) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = {}
        if self.params:
            kwargs["params"] = self.params
        if self.json is not None:
            kwargs["json"] = self.json
        elif self.content is not None:
            kwargs["content"] = self.content
        if self.headers:
            kwargs["headers"] = self.headers
        return kwargs


def build_http_headers(
    api_key: Optional[str],
    user_id: Optional[str],
    tenant_id: Optional[str],
    admin_api_key: Optional[str],
    extra: Optional[Dict[str, str]],
) -> Dict[str, str]:
    """Default headers of a client: credentials, identity and the User-Agent."""
    headers = {"User-Agent": USER_AGENT}
    if api_key:
        headers["X-API-Key"] = api_key
    if admin_api_key:
        headers["X-Admin-API-Key"] = admin_api_key
    if user_id:
        headers["X-User-ID"] = user_id
    if tenant_id:
        headers["X-Tenant-ID"] = tenant_id
    if extra:
        headers.update(extra)
    return headers


def wrap_transport_error(exc: Exception) -> StacyVMError:
    """Turn an httpx failure into the SDK's exception."""
    if isinstance(exc, httpx.TimeoutException):
        return ClientTimeoutError(f"Request to StacyVM server timed out: {exc}")
    return ConnectionError(f"Cannot connect to StacyVM server: {exc}")


#: httpx failures that mean "no usable response" (InvalidURL is not a RequestError).
TRANSPORT_ERRORS: Tuple[Type[Exception], ...] = (httpx.RequestError, httpx.InvalidURL)


def _finish(call: Call[T], response: httpx.Response) -> T:
    if not response.is_success and response.status_code not in call.accept:
        raise error_from_response(response, call.sandbox_id)
    try:
        return call.parse(response)
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidResponseError(
            f"unexpected response to {call.method} {call.path}: {e}",
            status_code=response.status_code,
            request_id=response.headers.get("X-Request-ID"),
        ) from e


def send(http: httpx.Client, call: Call[T]) -> T:
    """Execute ``call`` on a sync httpx client."""
    try:
        response = http.request(call.method, call.path, **call.request_kwargs())
    except TRANSPORT_ERRORS as e:
        raise wrap_transport_error(e) from e
    return _finish(call, response)


async def send_async(http: httpx.AsyncClient, call: Call[T]) -> T:
    """Execute ``call`` on an async httpx client."""
    try:
        response = await http.request(call.method, call.path, **call.request_kwargs())
    except TRANSPORT_ERRORS as e:
        raise wrap_transport_error(e) from e
    return _finish(call, response)


def stream_lines(http: httpx.Client, call: Call[Any]) -> Iterator[str]:
    """Open a streamed response and yield its lines; errors become SDK exceptions.

    Nothing is sent until the first line is requested. Closing the generator
    closes the response.
    """
    try:
        with http.stream(call.method, call.path, **call.request_kwargs()) as response:
            if not response.is_success:
                response.read()
                raise error_from_response(response, call.sandbox_id)
            yield from response.iter_lines()
    except TRANSPORT_ERRORS as e:
        raise wrap_transport_error(e) from e


async def astream_lines(http: httpx.AsyncClient, call: Call[Any]) -> AsyncIterator[str]:
    """Async twin of :func:`stream_lines`."""
    try:
        async with http.stream(call.method, call.path, **call.request_kwargs()) as response:
            if not response.is_success:
                await response.aread()
                raise error_from_response(response, call.sandbox_id)
            async for line in response.aiter_lines():
                yield line
    except TRANSPORT_ERRORS as e:
        raise wrap_transport_error(e) from e
