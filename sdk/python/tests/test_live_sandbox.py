"""Live tests of :class:`stacyvm.Sandbox` against a real ``stacyvm serve``."""

from __future__ import annotations

import threading

import pytest

import stacyvm
from stacyvm import Client, Sandbox

BINARY = bytes(range(256)) * 4


# --- exec ---------------------------------------------------------------------------


def test_exec(sandbox: Sandbox) -> None:
    result = sandbox.exec("echo out; echo err >&2; exit 3")
    assert isinstance(result, stacyvm.ExecResult)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert result.duration and not result.stdout_truncated


def test_exec_options(sandbox: Sandbox) -> None:
    assert sandbox.exec("echo", args=["a", "b c"], mode="argv").stdout == "a b c\n"
    assert sandbox.exec("echo $GREETING", env={"GREETING": "hello"}).stdout == "hello\n"
    # The mock provider runs commands on the host, so exec uses paths relative to /workspace.
    sandbox.write_file("/workspace/sub/marker", "m")
    assert sandbox.exec("cat marker", workdir="/workspace/sub").stdout == "m"
    assert sandbox.exec("cat marker", workdir="sub").stdout == "m"
    assert sandbox.exec("cat", stdin="from stdin").stdout == "from stdin"
    assert sandbox.exec("true", timeout="5s").exit_code == 0


def test_exec_timeout_and_errors(sandbox: Sandbox) -> None:
    with pytest.raises(stacyvm.ExecTimeoutError) as info:
        sandbox.exec("sleep 5", timeout="200ms")
    assert info.value.status_code == 408 and info.value.code == "TIMEOUT"
    with pytest.raises(stacyvm.BadRequestError):
        sandbox.exec("true", mode="bogus")
    with pytest.raises(stacyvm.BadRequestError):
        sandbox.exec("true", timeout="-1s")


def test_exec_stream(sandbox: Sandbox) -> None:
    stream = sandbox.exec_stream("echo one; sleep 0.1; echo two >&2; exit 4")
    chunks = list(stream)
    assert [(c.stream, c.data) for c in chunks] == [("stdout", "one\n"), ("stderr", "two\n")]
    assert stream.exit is not None and stream.exit.exit_code == 4 and not stream.exit.timed_out
    assert stream.exit.duration


def test_exec_stream_options_and_wait(sandbox: Sandbox) -> None:
    with sandbox.exec_stream("echo", args=["x"], mode="argv") as stream:
        assert stream.wait().exit_code == 0
    out = "".join(c.data for c in sandbox.exec_stream("echo $V; cat", env={"V": "v"}, stdin="in"))
    assert out == "v\nin"
    sandbox.write_file("/workspace/wd/marker", "w")
    workdir = sandbox.exec_stream("cat marker", workdir="wd")
    assert "".join(c.data for c in workdir) == "w"


def test_exec_stream_timeout_is_exit_frame(sandbox: Sandbox) -> None:
    stream = sandbox.exec_stream("echo start; sleep 5", timeout="300ms")
    assert [c.data for c in stream] == ["start\n"]
    assert stream.exit is not None
    assert stream.exit.exit_code == -1 and stream.exit.timed_out
    assert stream.exit.error is not None and stream.exit.error.code == "TIMEOUT"


def test_exec_stream_errors_raise_sdk_errors(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(stacyvm.BadRequestError):
        list(sandbox.exec_stream("true", mode="bogus"))
    ghost = Sandbox(client._http, "sb-000000000000000000000000")
    with pytest.raises(stacyvm.SandboxNotFound) as info:
        list(ghost.exec_stream("true"))
    assert info.value.sandbox_id == ghost.id


def test_exec_stream_early_close(sandbox: Sandbox) -> None:
    stream = sandbox.exec_stream("for i in 1 2 3 4 5; do echo $i; sleep 0.05; done")
    assert next(stream).data == "1\n"
    stream.close()
    assert stream.exit is None
    assert sandbox.exec("echo still-usable").stdout == "still-usable\n"


# --- files ----------------------------------------------------------------------------


def test_text_files(sandbox: Sandbox) -> None:
    sandbox.write_file("/workspace/hello.txt", "héllo wörld\n")
    assert sandbox.read_file("/workspace/hello.txt") == "héllo wörld\n"
    sandbox.write_file("/workspace/run.sh", "#!/bin/sh\necho ran\n", mode="0755")
    assert sandbox.stat_file("/workspace/run.sh")["mode"] == "0755"
    assert sandbox.exec("./run.sh").stdout == "ran\n"


def test_binary_files(sandbox: Sandbox) -> None:
    assert sandbox.write_bytes("/workspace/data.bin", BINARY) == len(BINARY)
    assert sandbox.read_bytes("/workspace/data.bin") == BINARY
    sandbox.write_bytes("/workspace/secret.bin", b"\x00\xff", mode="0600")
    assert sandbox.stat_file("/workspace/secret.bin")["mode"] == "0600"
    sandbox.write_file("/workspace/b64.bin", b"\x00\x01\xfe\xff")  # bytes go base64 over JSON
    assert sandbox.read_bytes("/workspace/b64.bin") == b"\x00\x01\xfe\xff"
    assert sandbox.read_file("/workspace/b64.bin") == "\x00\x01\ufffd\ufffd"


def test_file_management(sandbox: Sandbox) -> None:
    sandbox.write_file("/workspace/dir/a.txt", "a")
    sandbox.write_file("/workspace/dir/b.log", "bb")
    entries = sandbox.list_files("/workspace/dir")
    assert [e["name"] for e in entries] == ["a.txt", "b.log"]
    assert entries[1]["size"] == 2 and not entries[1]["is_dir"]
    assert any(e["path"] == "/workspace" and e["is_dir"] for e in sandbox.list_files())
    info = sandbox.stat_file("/workspace/dir/a.txt")
    assert info["path"] == "/workspace/dir/a.txt" and info["size"] == 1 and info["mod_time"]
    assert sandbox.glob_files("/workspace/dir/*.txt") == ["/workspace/dir/a.txt"]
    assert sandbox.glob_files("/workspace/**/*.log") == ["/workspace/dir/b.log"]

    sandbox.move_file("/workspace/dir/a.txt", "/workspace/dir/c.txt")
    assert sandbox.read_file("/workspace/dir/c.txt") == "a"
    sandbox.chmod_file("/workspace/dir/c.txt", "600")
    assert sandbox.stat_file("/workspace/dir/c.txt")["mode"] == "0600"

    sandbox.delete_file("/workspace/dir/c.txt")
    with pytest.raises(stacyvm.NotFoundError) as info2:
        sandbox.stat_file("/workspace/dir/c.txt")
    assert info2.value.status_code == 404
    with pytest.raises(stacyvm.ConflictError):
        sandbox.delete_file("/workspace/dir")  # not empty
    sandbox.delete_file("/workspace/dir", recursive=True)
    assert sandbox.glob_files("/workspace/dir/*") == []


def test_file_errors(sandbox: Sandbox) -> None:
    with pytest.raises(stacyvm.NotFoundError):
        sandbox.read_file("/workspace/missing.txt")
    with pytest.raises(stacyvm.NotFoundError):
        sandbox.read_bytes("/workspace/missing.bin")
    with pytest.raises(stacyvm.BadRequestError):
        sandbox.read_file("/workspace")  # a directory


# --- logs, stats, lifecycle ---------------------------------------------------------------


def test_logs_and_stats(sandbox: Sandbox) -> None:
    sandbox.exec("true")
    lines = sandbox.logs()
    assert lines and all(isinstance(line, str) for line in lines)
    assert len(sandbox.logs(lines=1)) == 1
    with pytest.raises(stacyvm.BadRequestError):
        sandbox.logs(lines=0)
    stats = sandbox.stats()
    assert isinstance(stats, stacyvm.SandboxStats) and stats.supported in (True, False)


def test_stream_logs_until_destroyed(client: Client) -> None:
    sb = client.spawn()
    with sb.stream_logs(lines=1) as logs:
        first = next(logs)
        assert isinstance(first, str)
        timer = threading.Timer(0.2, sb.destroy)
        timer.start()
        rest = list(logs)
        timer.join()
    assert all(isinstance(line, str) for line in rest)
    assert logs.exit is not None and logs.exit.exit_code == 0


def test_extend_refresh_and_properties(sandbox: Sandbox) -> None:
    before = sandbox.expires_at
    info = sandbox.extend_ttl("2h")
    assert info.expires_at > before and sandbox.expires_at == info.expires_at
    added = sandbox.extend("30m", mode="add")
    assert added.expires_at > info.expires_at
    assert sandbox.extend_ttl().expires_at < added.expires_at  # default "30m" from now
    with pytest.raises(stacyvm.ResourceLimitError):
        sandbox.extend_ttl("100h")
    refreshed = sandbox.refresh()
    assert refreshed.id == sandbox.id and sandbox.state == "running"
    assert sandbox.provider == "mock" and sandbox.image == "alpine:latest"
    assert sandbox.worker_id == "local" and sandbox.preview_domain
    assert repr(sandbox) == f"Sandbox(id={sandbox.id!r}, state='running')"


def test_preview_url(sandbox: Sandbox) -> None:
    assert sandbox.get_preview_url(3000) == f"http://3000-{sandbox.id}.{sandbox.preview_domain}"
    assert ":" in sandbox.preview_domain  # the CP's port is appended when not 80/443


def test_destroy_and_context_manager(client: Client) -> None:
    with client.spawn() as sb:
        assert sb.exec("true").exit_code == 0
    with pytest.raises(stacyvm.SandboxNotFound):
        client.get(sb.id)
    sb.destroy()  # destroying twice is fine
    with pytest.raises(stacyvm.SandboxNotFound):
        sb.refresh()
    with pytest.raises(stacyvm.SandboxNotFound):
        sb.exec("true")
    with pytest.raises(ZeroDivisionError):
        with client.spawn() as sb2:
            raise ZeroDivisionError("user code failed")
    with pytest.raises(stacyvm.SandboxNotFound):
        client.get(sb2.id)
