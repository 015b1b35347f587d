"""Fixtures: one real ``stacyvm serve`` (mock provider) for the whole session.

The binary comes from ``STACYVM_BIN`` (default ``<repo>/.build/debug/stacyvm``).
The server listens on a free loopback port with a temporary data directory and
an admin API key, so anonymous mode is off and every client sends a key.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Iterator

import httpx
import pytest

import stacyvm

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Server:
    url: str
    admin_key: str
    api_key: str
    """A key with role ``api`` created through the SDK at startup."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stacyvm serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"stacyvm serve did not become healthy:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = Path(os.environ.get("STACYVM_BIN") or REPO_ROOT / ".build" / "debug" / "stacyvm").resolve()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"stacyvm binary not found: {binary} (set STACYVM_BIN)")
    root = tmp_path_factory.mktemp("stacyvm")
    (root / "mock").mkdir()
    (root / "data").mkdir()
    port = _free_port()
    admin_key = "test-admin-" + secrets.token_hex(16)
    env = {
        **os.environ,
        "STACYVM_SERVER_HOST": "127.0.0.1",
        "STACYVM_SERVER_PORT": str(port),
        "STACYVM_SERVER_DATA_DIR": str(root / "data"),
        "STACYVM_DATABASE_PATH": str(root / "data" / "stacyvm.db"),
        "STACYVM_PROVIDERS_DEFAULT": "mock",
        "STACYVM_PROVIDERS_MOCK_ROOT_DIR": str(root / "mock"),
        "STACYVM_TESTING": "1",
        "STACYVM_AUTH_ADMIN_API_KEY": admin_key,
        "STACYVM_LOGGING_LEVEL": "warn",
    }
    env.pop("STACYVM_CONFIG", None)
    log = root / "server.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, proc, log, time.monotonic() + 30)
        with stacyvm.Client(url, api_key=admin_key) as admin:
            api_key = admin.create_api_key("api", description="sdk tests").key
        assert api_key
        yield Server(url=url, admin_key=admin_key, api_key=api_key)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def admin(server: Server) -> Iterator[stacyvm.Client]:
    """A client holding the admin key."""
    with stacyvm.Client(server.url, api_key=server.admin_key, timeout=20) as c:
        yield c


@pytest.fixture
def client(server: Server) -> Iterator[stacyvm.Client]:
    """A client holding an ``api``-role key (what an SDK user normally has)."""
    with stacyvm.Client(server.url, api_key=server.api_key, timeout=20) as c:
        yield c


@pytest.fixture
def sandbox(client: stacyvm.Client) -> Iterator[stacyvm.Sandbox]:
    with client.spawn(metadata={"suite": "python-sdk"}) as sb:
        yield sb


@pytest.fixture
async def aclient(server: Server) -> AsyncIterator[stacyvm.AsyncClient]:
    async with stacyvm.AsyncClient(server.url, api_key=server.api_key, timeout=20) as c:
        yield c


@pytest.fixture
async def aadmin(server: Server) -> AsyncIterator[stacyvm.AsyncClient]:
    async with stacyvm.AsyncClient(server.url, api_key=server.admin_key, timeout=20) as c:
        yield c


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
