"""StacyVM Sandbox: one sandbox, with exec, files, logs and lifecycle calls."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import httpx

from stacyvm import _operations as ops
from stacyvm._transport import send, stream_lines
from stacyvm.exceptions import StacyVMError
from stacyvm.models import ExecResult, FileInfo, SandboxInfo, SandboxStats
from stacyvm.streaming import ExecStream, LogStream


def preview_url(sandbox_id: str, info: Mapping[str, Any], port: int) -> str:
    """``http://{port}-{id}.{preview_domain}``, the host form the server proxies."""
    domain = info.get("preview_domain") or "localhost"
    return f"http://{int(port)}-{sandbox_id}.{domain}"


class _SandboxBase:
    """State shared by :class:`Sandbox` and :class:`~stacyvm.AsyncSandbox`."""

    def __init__(self, sandbox_id: str, info: Optional[Dict[str, Any]] = None) -> None:
        self.id = sandbox_id
        self._info: Dict[str, Any] = dict(info or {})
        token = self._info.get("preview_token")
        #: Token for preview access without credentials (sent once, by spawn).
        self.preview_token: Optional[str] = token if isinstance(token, str) else None

    def _update(self, data: Dict[str, Any]) -> SandboxInfo:
        self._info = dict(data)
        return self.info

    @property
    def info(self) -> SandboxInfo:
        """The last known description of the sandbox (see :meth:`refresh`)."""
        return SandboxInfo.from_dict({**self._info, "id": self.id})

    @property
    def state(self) -> str:
        return str(self._info.get("state", "unknown"))

    @property
    def provider(self) -> str:
        return str(self._info.get("provider", ""))

    @property
    def image(self) -> str:
        return str(self._info.get("image", ""))

    @property
    def expires_at(self) -> str:
        return str(self._info.get("expires_at", ""))

    @property
    def worker_id(self) -> str:
        return str(self._info.get("worker_id", ""))

    @property
    def preview_domain(self) -> str:
        return str(self._info.get("preview_domain") or "localhost")

    def get_preview_url(self, port: int) -> str:
        """The live preview URL of ``port`` (no I/O)."""
        return preview_url(self.id, self._info, port)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, state={self.state!r})"


class Sandbox(_SandboxBase):
    """A StacyVM sandbox. ``with client.spawn() as sb: ...`` destroys it on exit."""

    def __init__(
        self, http: httpx.Client, sandbox_id: str, info: Optional[Dict[str, Any]] = None
    ) -> None:
        super().__init__(sandbox_id, info)
        self._http = http

    # --- exec ---------------------------------------------------------------

    def exec(
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
        """Run a command and wait for it (``mode``: ``"shell"`` (default) or ``"argv"``).

        A non-zero exit is a normal result; passing ``timeout`` (Go duration)
        raises :class:`~stacyvm.exceptions.ExecTimeoutError`.
        """
        call = ops.exec_command(
            self.id, command, args, mode, env, workdir, timeout,
            stdin=stdin, output_encoding=output_encoding,
        )
        return send(self._http, call)

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
    ) -> ExecStream:
        """Run a command and stream its output; ``stream.exit`` holds the exit frame at the end."""
        call = ops.exec_command(
            self.id, command, args, mode, env, workdir, timeout,
            stream=True, stdin=stdin, output_encoding=output_encoding,
        )
        return ExecStream(stream_lines(self._http, call))

    # --- files ----------------------------------------------------------------

    def write_file(self, path: str, content: Union[str, bytes], mode: Optional[str] = None) -> None:
        """Write a file (text as UTF-8; ``bytes`` are sent base64-encoded). ``mode``: e.g. ``"755"``."""
        send(self._http, ops.write_file(self.id, path, content, mode))

    def write_bytes(self, path: str, data: bytes, mode: Optional[str] = None) -> int:
        """Upload raw bytes (``PUT``, binary-safe); returns the size written."""
        return send(self._http, ops.upload_file(self.id, path, data, mode))

    def read_file(self, path: str) -> str:
        """Read a file as text (UTF-8; invalid bytes become U+FFFD)."""
        return self.read_bytes(path).decode("utf-8", errors="replace")

    def read_bytes(self, path: str) -> bytes:
        """Read a file's raw bytes."""
        return send(self._http, ops.read_file(self.id, path))

    def list_files(self, path: str = "/") -> List[FileInfo]:
        """List a directory, sorted by name."""
        return send(self._http, ops.list_files(self.id, path))

    def delete_file(self, path: str, recursive: bool = False) -> None:
        """Delete a file, or a directory (non-empty ones need ``recursive=True``)."""
        send(self._http, ops.delete_file(self.id, path, recursive))

    def move_file(self, old_path: str, new_path: str) -> None:
        """Move or rename a file."""
        send(self._http, ops.move_file(self.id, old_path, new_path))

    def chmod_file(self, path: str, mode: str) -> None:
        """Change a file's permissions (octal string, e.g. ``"755"``)."""
        send(self._http, ops.chmod_file(self.id, path, mode))

    def stat_file(self, path: str) -> FileInfo:
        """Describe one file."""
        return send(self._http, ops.stat_file(self.id, path))

    def glob_files(self, pattern: str) -> List[str]:
        """Paths matching a glob pattern (``**`` recurses)."""
        return send(self._http, ops.glob_files(self.id, pattern))

    # --- logs and stats ---------------------------------------------------------

    def logs(self, lines: Optional[int] = None) -> List[str]:
        """The last ``lines`` console lines (server default 100), oldest first."""
        return send(self._http, ops.get_sandbox_logs(self.id, lines))

    def stream_logs(self, lines: Optional[int] = None) -> LogStream:
        """Follow the console: the last ``lines`` lines, then new ones until the sandbox ends."""
        return LogStream(stream_lines(self._http, ops.get_sandbox_logs(self.id, lines, follow=True)))

    def stats(self) -> SandboxStats:
        """CPU and memory usage, when the provider supports it."""
        return send(self._http, ops.get_sandbox_stats(self.id))

    # --- lifecycle ----------------------------------------------------------------

    def extend_ttl(self, ttl: str = "30m", mode: Optional[str] = None) -> SandboxInfo:
        """Set the expiry to now + ``ttl`` (or, with ``mode="add"``, extend it by ``ttl``)."""
        return self._update(send(self._http, ops.extend_sandbox(self.id, ttl, mode)))

    extend = extend_ttl

    def destroy(self) -> None:
        """Destroy the sandbox (idempotent)."""
        send(self._http, ops.destroy_sandbox(self.id))

    def refresh(self) -> SandboxInfo:
        """Re-read the sandbox from the server."""
        return self._update(send(self._http, ops.get_sandbox(self.id)))

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.destroy()
        except StacyVMError:
            pass
