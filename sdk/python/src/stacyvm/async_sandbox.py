"""StacyVM AsyncSandbox: the async variant of :class:`~stacyvm.Sandbox`."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import httpx

from stacyvm import _operations as ops
from stacyvm._transport import astream_lines, send_async
from stacyvm.exceptions import StacyVMError
from stacyvm.models import ExecResult, FileInfo, SandboxInfo, SandboxStats
from stacyvm.sandbox import _SandboxBase
from stacyvm.streaming import AsyncExecStream, AsyncLogStream


class AsyncSandbox(_SandboxBase):
    """An async StacyVM sandbox. ``async with await client.spawn() as sb: ...`` destroys it on exit."""

    def __init__(
        self, http: httpx.AsyncClient, sandbox_id: str, info: Optional[Dict[str, Any]] = None
    ) -> None:
        super().__init__(sandbox_id, info)
        self._http = http

    # --- exec ---------------------------------------------------------------

    async def exec(
        self,
        command: str,
        args: Optional[Sequence[str]] = None,
        mode: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        timeout: Optional[str] = None,
        *,
        stdin: Optional[str] = None,
        output_encoding: Optional[str] = None,
    ) -> ExecResult:
        """Run a command and wait for it. See :meth:`stacyvm.Sandbox.exec`."""
        call = ops.exec_command(
            self.id, command, args, mode, env, workdir, timeout,
            stdin=stdin, output_encoding=output_encoding,
        )
        return await send_async(self._http, call)

    def exec_stream(
        self,
        command: str,
        args: Optional[Sequence[str]] = None,
        mode: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        *,
        timeout: Optional[str] = None,
        stdin: Optional[str] = None,
        output_encoding: Optional[str] = None,
    ) -> AsyncExecStream:
        """Stream a command's output: ``async for chunk in sb.exec_stream(...)``; then ``.exit``."""
        call = ops.exec_command(
            self.id, command, args, mode, env, workdir, timeout,
            stream=True, stdin=stdin, output_encoding=output_encoding,
        )
        return AsyncExecStream(astream_lines(self._http, call))

    # --- files ----------------------------------------------------------------

    async def write_file(
        self, path: str, content: Union[str, bytes], mode: Optional[str] = None
    ) -> None:
        """Write a file (text as UTF-8; ``bytes`` are sent base64-encoded)."""
        await send_async(self._http, ops.write_file(self.id, path, content, mode))

    async def write_bytes(self, path: str, data: bytes, mode: Optional[str] = None) -> int:
        """Upload raw bytes (``PUT``, binary-safe); returns the size written."""
        return await send_async(self._http, ops.upload_file(self.id, path, data, mode))

    async def read_file(self, path: str) -> str:
        """Read a file as text (UTF-8; invalid bytes become U+FFFD)."""
        return (await self.read_bytes(path)).decode("utf-8", errors="replace")

    async def read_bytes(self, path: str) -> bytes:
        """Read a file's raw bytes."""
        return await send_async(self._http, ops.read_file(self.id, path))

    async def list_files(self, path: str = "/") -> List[FileInfo]:
        """List a directory, sorted by name."""
        return await send_async(self._http, ops.list_files(self.id, path))

    async def delete_file(self, path: str, recursive: bool = False) -> None:
        """Delete a file, or a directory (non-empty ones need ``recursive=True``)."""
        await send_async(self._http, ops.delete_file(self.id, path, recursive))

    async def move_file(self, old_path: str, new_path: str) -> None:
        """Move or rename a file."""
        await send_async(self._http, ops.move_file(self.id, old_path, new_path))

    async def chmod_file(self, path: str, mode: str) -> None:
        """Change a file's permissions (octal string)."""
        await send_async(self._http, ops.chmod_file(self.id, path, mode))

    async def stat_file(self, path: str) -> FileInfo:
        """Describe one file."""
        return await send_async(self._http, ops.stat_file(self.id, path))

    async def glob_files(self, pattern: str) -> List[str]:
        """Paths matching a glob pattern."""
        return await send_async(self._http, ops.glob_files(self.id, pattern))

    # --- logs and stats ---------------------------------------------------------

    async def logs(self, lines: Optional[int] = None) -> List[str]:
        """The last ``lines`` console lines, oldest first."""
        return await send_async(self._http, ops.get_sandbox_logs(self.id, lines))

    def stream_logs(self, lines: Optional[int] = None) -> AsyncLogStream:
        """Follow the console until the sandbox ends."""
        call = ops.get_sandbox_logs(self.id, lines, follow=True)
        return AsyncLogStream(astream_lines(self._http, call))

    async def stats(self) -> SandboxStats:
        """CPU and memory usage, when the provider supports it."""
        return await send_async(self._http, ops.get_sandbox_stats(self.id))

    # --- lifecycle ----------------------------------------------------------------

    async def extend_ttl(self, ttl: str = "30m", mode: Optional[str] = None) -> SandboxInfo:
        """Set the expiry to now + ``ttl`` (or, with ``mode="add"``, extend it by ``ttl``)."""
        return self._update(await send_async(self._http, ops.extend_sandbox(self.id, ttl, mode)))

    extend = extend_ttl

    async def destroy(self) -> None:
        """Destroy the sandbox (idempotent)."""
        await send_async(self._http, ops.destroy_sandbox(self.id))

    async def refresh(self) -> SandboxInfo:
        """Re-read the sandbox from the server."""
        return self._update(await send_async(self._http, ops.get_sandbox(self.id)))

    async def __aenter__(self) -> AsyncSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.destroy()
        except StacyVMError:
            pass
