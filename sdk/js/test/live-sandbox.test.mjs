// Live tests of Sandbox and its streams against a real `stacyvm serve` (mock provider).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import * as stacyvm from "../dist/index.js";
import { Client, ExecStream, LogStream, Sandbox } from "../dist/index.js";
import { startServer } from "./helpers/server.mjs";

const BINARY = new Uint8Array(1024).map((_, i) => i % 256);

let server;
let client;
let sandbox; // shared by the tests that do not destroy it

before(async () => {
  server = await startServer();
  client = server.client();
  sandbox = await client.spawn({ metadata: { suite: "js-sdk" } });
});
after(async () => {
  await sandbox?.destroy().catch(() => undefined);
  await server?.stop();
});

async function rejectsWith(promise, cls, fields = {}) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
    for (const [k, v] of Object.entries(fields)) assert.equal(err[k], v, k);
    return true;
  });
}

async function collect(stream) {
  const items = [];
  for await (const item of stream) items.push(item);
  return items;
}

// --- exec ------------------------------------------------------------------------------

test("exec resolves to exactly {exit_code, stdout, stderr, duration}", async () => {
  const result = await sandbox.exec("echo out; echo err >&2; exit 3");
  assert.deepStrictEqual(Object.keys(result), ["exit_code", "stdout", "stderr", "duration"]);
  assert.equal(result.exit_code, 3);
  assert.equal(result.stdout, "out\n");
  assert.equal(result.stderr, "err\n");
  assert.match(result.duration, /^[0-9.]+(ns|µs|us|ms|s)$/);
});

test("exec options", async () => {
  assert.equal((await sandbox.exec("echo", { args: ["a", "b c"], mode: "argv" })).stdout, "a b c\n");
  assert.equal((await sandbox.exec("echo $GREETING", { env: { GREETING: "hello" } })).stdout, "hello\n");
  await sandbox.writeFile("/workspace/sub/marker", "m");
  assert.equal((await sandbox.exec("cat marker", { workdir: "/workspace/sub" })).stdout, "m");
  assert.equal((await sandbox.exec("cat marker", { workdir: "sub" })).stdout, "m");
  assert.equal((await sandbox.exec("cat", { stdin: "from stdin" })).stdout, "from stdin");
  assert.equal((await sandbox.exec("true", { timeout: "5s" })).exit_code, 0);
  const b64 = await sandbox.exec("printf '\\377ab'", { output_encoding: "base64" });
  assert.deepStrictEqual([...Buffer.from(b64.stdout, "base64")], [0xff, 0x61, 0x62]);
});

test("exec timeout and validation errors", async () => {
  await rejectsWith(sandbox.exec("sleep 5", { timeout: "200ms" }), stacyvm.ExecTimeoutError, {
    statusCode: 408,
    code: "TIMEOUT",
  });
  await rejectsWith(sandbox.exec("true", { mode: "bogus" }), stacyvm.BadRequestError);
  await rejectsWith(sandbox.exec("true", { timeout: "-1s" }), stacyvm.BadRequestError);
});

test("execStream yields chunks, then exposes the exit frame", async () => {
  const stream = sandbox.execStream("echo one; sleep 0.1; echo two >&2; exit 4");
  assert.ok(stream instanceof ExecStream);
  const chunks = await collect(stream);
  assert.deepStrictEqual(chunks, [
    { stream: "stdout", data: "one\n" },
    { stream: "stderr", data: "two\n" },
  ]);
  assert.equal(stream.exit.exit_code, 4);
  assert.equal(stream.exit.timed_out, false);
  assert.ok(stream.exit.duration);
  assert.deepStrictEqual(await stream.next(), { done: true, value: undefined });
});

test("execStream options and wait()", async () => {
  const argv = sandbox.execStream("echo", { args: ["x"], mode: "argv" });
  assert.equal((await argv.wait()).exit_code, 0);
  const out = (await collect(sandbox.execStream("echo $V; cat", { env: { V: "v" }, stdin: "in" })))
    .map((c) => c.data)
    .join("");
  assert.equal(out, "v\nin");
  await sandbox.writeFile("/workspace/wd/marker", "w");
  const wd = await collect(sandbox.execStream("cat marker", { workdir: "wd" }));
  assert.equal(wd.map((c) => c.data).join(""), "w");
});

test("a server-side stream timeout is an exit frame, not an error", async () => {
  const stream = sandbox.execStream("echo start; sleep 5", { timeout: "300ms" });
  assert.deepStrictEqual((await collect(stream)).map((c) => c.data), ["start\n"]);
  assert.equal(stream.exit.exit_code, -1);
  assert.equal(stream.exit.timed_out, true);
  assert.equal(stream.exit.error.code, "TIMEOUT");
});

test("the client timeout is an idle timeout on streams", async () => {
  const quick = new Client({ baseUrl: server.url, apiKey: server.apiKey, timeout: 1000 });
  const sb = await quick.get(sandbox.id);
  // 1.8 s in all, never 1 s without output: completes.
  const busy = sb.execStream("for i in 1 2 3 4 5 6; do echo $i; sleep 0.3; done");
  assert.equal((await collect(busy)).length, 6);
  assert.equal(busy.exit.exit_code, 0);
  // Silent for 2.5 s: the client gives up after 1 s without data.
  const started = Date.now();
  const silent = sb.execStream("echo a; sleep 2.5; echo b");
  const first = await silent.next();
  assert.equal(first.value.data, "a\n");
  await rejectsWith(silent.next(), stacyvm.ClientTimeoutError, { code: "CLIENT_TIMEOUT" });
  assert.ok(Date.now() - started < 2400, "gave up within the idle timeout");
  assert.ok((await silent.next()).done, "a failed stream is finished");
  // The consumer's own pauses do not count.
  const paused = sb.execStream("echo 1; echo 2");
  assert.equal((await paused.next()).value.data.startsWith("1"), true);
  await sleep(1300);
  await paused.wait();
  assert.equal(paused.exit.exit_code, 0);
});

test("stream errors are SDK errors", async () => {
  await rejectsWith(sandbox.execStream("true", { mode: "bogus" }).wait(), stacyvm.BadRequestError);
  const gone = new Sandbox(client._transport, { id: "sb-000000000000000000000000" });
  await rejectsWith(collect(gone.execStream("true")), stacyvm.SandboxNotFoundError, { sandboxId: gone.id });
});

test("execStream closed early (break, return, close, throw)", async () => {
  const stream = sandbox.execStream("for i in 1 2 3 4 5; do echo $i; sleep 0.05; done");
  for await (const chunk of stream) {
    assert.equal(chunk.data, "1\n");
    break; // calls return(): closes the response
  }
  assert.equal(stream.exit, undefined);
  assert.equal((await sandbox.exec("echo still-usable")).stdout, "still-usable\n");

  const returned = sandbox.execStream("echo r; sleep 1");
  assert.equal((await returned.next()).value.data, "r\n");
  assert.deepStrictEqual(await returned.return(), { done: true, value: undefined });
  assert.equal(returned.exit, undefined);

  const closed = sandbox.execStream("sleep 1; echo late");
  await closed.close();
  assert.deepStrictEqual(await closed.next(), { done: true, value: undefined }); // never sent
  await rejectsWith(closed.wait(), stacyvm.StreamError);

  const thrown = sandbox.execStream("echo x; sleep 1");
  await thrown.next();
  await assert.rejects(thrown.throw(new RangeError("stop")), RangeError);
  assert.equal(thrown.exit, undefined);
});

// --- files --------------------------------------------------------------------------------

test("text files", async () => {
  await sandbox.writeFile("/workspace/hello.txt", "héllo wörld\n");
  assert.equal(await sandbox.readFile("/workspace/hello.txt"), "héllo wörld\n");
  await sandbox.writeFile("/workspace/run.sh", "#!/bin/sh\necho ran\n", "0755");
  assert.equal((await sandbox.statFile("/workspace/run.sh")).mode, "0755");
  assert.equal((await sandbox.exec("./run.sh")).stdout, "ran\n");
});

test("binary files", async () => {
  assert.equal(await sandbox.writeBytes("/workspace/data.bin", BINARY), BINARY.length);
  assert.deepStrictEqual(await sandbox.readBytes("/workspace/data.bin"), BINARY);
  await sandbox.writeBytes("/workspace/secret.bin", new Uint8Array([0, 255]).buffer, "0600");
  assert.equal((await sandbox.statFile("/workspace/secret.bin")).mode, "0600");
  await sandbox.writeFile("/workspace/b64.bin", new Uint8Array([0, 1, 0xfe, 0xff])); // base64 over JSON
  assert.deepStrictEqual(await sandbox.readBytes("/workspace/b64.bin"), new Uint8Array([0, 1, 0xfe, 0xff]));
  assert.equal(await sandbox.readFile("/workspace/b64.bin"), "\x00\x01\ufffd\ufffd");
});

test("file management", async () => {
  await sandbox.writeFile("/workspace/dir/a.txt", "a");
  await sandbox.writeFile("/workspace/dir/b.log", "bb");
  const entries = await sandbox.listFiles("/workspace/dir");
  assert.deepStrictEqual(entries.map((e) => e.name), ["a.txt", "b.log"]);
  assert.equal(entries[1].size, 2);
  assert.equal(entries[1].is_dir, false);
  assert.ok((await sandbox.listFiles()).some((e) => e.path === "/workspace" && e.is_dir));
  const info = await sandbox.statFile("/workspace/dir/a.txt");
  assert.equal(info.path, "/workspace/dir/a.txt");
  assert.equal(info.size, 1);
  assert.ok(info.mod_time);
  assert.deepStrictEqual(await sandbox.globFiles("/workspace/dir/*.txt"), ["/workspace/dir/a.txt"]);
  assert.deepStrictEqual(await sandbox.globFiles("/workspace/**/*.log"), ["/workspace/dir/b.log"]);

  await sandbox.moveFile("/workspace/dir/a.txt", "/workspace/dir/c.txt");
  assert.equal(await sandbox.readFile("/workspace/dir/c.txt"), "a");
  await sandbox.chmodFile("/workspace/dir/c.txt", "600");
  assert.equal((await sandbox.statFile("/workspace/dir/c.txt")).mode, "0600");

  await sandbox.deleteFile("/workspace/dir/c.txt");
  await rejectsWith(sandbox.statFile("/workspace/dir/c.txt"), stacyvm.NotFoundError, { statusCode: 404 });
  await rejectsWith(sandbox.deleteFile("/workspace/dir"), stacyvm.ConflictError); // not empty
  await sandbox.deleteFile("/workspace/dir", true);
  assert.deepStrictEqual(await sandbox.globFiles("/workspace/dir/*"), []);
});

test("file errors", async () => {
  await rejectsWith(sandbox.readFile("/workspace/missing.txt"), stacyvm.NotFoundError);
  await rejectsWith(sandbox.readBytes("/workspace/missing.bin"), stacyvm.NotFoundError);
  await rejectsWith(sandbox.readFile("/workspace"), stacyvm.BadRequestError); // a directory
});

// --- logs, stats, lifecycle ---------------------------------------------------------------

test("logs and stats", async () => {
  await sandbox.exec("true");
  const lines = await sandbox.logs();
  assert.ok(lines.length > 0 && lines.every((l) => typeof l === "string"));
  assert.equal((await sandbox.logs(1)).length, 1);
  await rejectsWith(sandbox.logs(0), stacyvm.BadRequestError);
  const stats = await sandbox.stats();
  assert.equal(typeof stats.supported, "boolean");
});

test("streamLogs follows the console until the sandbox is destroyed", async () => {
  const sb = await client.spawn();
  const logs = sb.streamLogs(1);
  assert.ok(logs instanceof LogStream);
  const first = await logs.next();
  assert.equal(typeof first.value, "string");
  const destroyed = sleep(200).then(() => sb.destroy());
  const rest = await collect(logs);
  await destroyed;
  assert.ok(rest.every((l) => typeof l === "string"));
  assert.equal(logs.exit.exit_code, 0);
  const ended = sb.streamLogs(1);
  await rejectsWith(ended.wait(), stacyvm.SandboxNotFoundError); // gone now
  const unused = sandbox.streamLogs(1);
  assert.equal(typeof (await unused.next()).value, "string");
  assert.deepStrictEqual(await unused.return(), { done: true, value: undefined });
});

test("extendTtl, refresh and properties", async () => {
  const before = sandbox.expiresAt;
  const info = await sandbox.extendTtl("2h");
  assert.ok(info.expires_at > before);
  assert.equal(sandbox.expiresAt, info.expires_at);
  const added = await sandbox.extend("30m", "add");
  assert.ok(added.expires_at > info.expires_at);
  assert.ok((await sandbox.extendTtl()).expires_at < added.expires_at); // default "30m" from now
  await rejectsWith(sandbox.extendTtl("100h"), stacyvm.ResourceLimitError);
  const refreshed = await sandbox.refresh();
  assert.equal(refreshed, sandbox); // 0.1.x: refresh() resolves to the sandbox itself
  assert.equal(sandbox.state, "running");
  assert.equal(sandbox.provider, "mock");
  assert.equal(sandbox.image, "alpine:latest");
  assert.equal(sandbox.memoryMb, 512);
  assert.equal(sandbox.vcpus, 1);
  assert.equal(sandbox.workerId, "local");
  assert.deepStrictEqual(sandbox.info.metadata, { suite: "js-sdk" });
  assert.equal(sandbox.previewToken, sandbox.info.preview_token);
  assert.equal(sandbox.toString(), `Sandbox(id="${sandbox.id}", state="running")`);
  assert.deepStrictEqual(JSON.parse(JSON.stringify(sandbox)), sandbox.toJSON());
  assert.equal(sandbox.toJSON().id, sandbox.id);
});

test("preview URL", () => {
  assert.equal(sandbox.getPreviewUrl(3000), `http://3000-${sandbox.id}.${sandbox.previewDomain}`);
  assert.ok(sandbox.previewDomain.includes(":")); // the CP's port is appended when not 80/443
});

test("destroy is idempotent; a destroyed sandbox is not found", async () => {
  const sb = await client.spawn();
  assert.equal((await sb.exec("true")).exit_code, 0);
  await sb.destroy();
  assert.equal(sb.state, "destroyed");
  await rejectsWith(client.get(sb.id), stacyvm.SandboxNotFoundError);
  await sb.destroy(); // destroying twice is fine
  await rejectsWith(sb.refresh(), stacyvm.SandboxNotFoundError, { sandboxId: sb.id });
  await rejectsWith(sb.exec("true"), stacyvm.SandboxNotFoundError);
});
