// Offline tests: error mapping, stream parsing, transport failures and 0.1.x names.
// The "server" here is a local recording HTTP server with hand-made answers.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import * as stacyvm from "../dist/index.js";
import {
  Client,
  ExecStream,
  SSEParser,
  Sandbox,
  errorFromResponse,
  handleResponse,
  parseFrame,
  parseNDJSON,
} from "../dist/index.js";
import { startRecorder, writeSpec } from "./helpers/recorder.mjs";

const SB = "sb-0123456789abcdef01234567";
const SDK_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

let rec;
before(async () => {
  rec = await startRecorder();
});
after(async () => {
  await rec.close();
});

/** Answer every request with `spec` (or a function of the recorded request). */
function answer(spec) {
  rec.requests.length = 0;
  rec.setResponder((req, res) => writeSpec(res, typeof spec === "function" ? spec(req) : spec));
}

function client(opts = {}) {
  return new Client({ baseUrl: rec.url, apiKey: "k", timeout: 3000, ...opts });
}

function sandbox(c = client()) {
  return new Sandbox(c._transport, { id: SB });
}

async function rejectsWith(promise, cls, fields = {}) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
    for (const [k, v] of Object.entries(fields)) assert.deepStrictEqual(err[k], v, k);
    return true;
  });
}

// --- error mapping: status first, then envelope code ------------------------------------------

const CASES = [
  [400, "BAD_REQUEST", "BadRequestError"],
  [400, "UNSUPPORTED_VERSION", "UnsupportedVersionError"],
  [401, "UNAUTHORIZED", "UnauthorizedError"],
  [403, "FORBIDDEN", "ForbiddenError"],
  [404, "NOT_FOUND", "SandboxNotFoundError"],
  [405, "METHOD_NOT_ALLOWED", "MethodNotAllowedError"],
  [408, "TIMEOUT", "ExecTimeoutError"],
  [409, "CONFLICT", "ConflictError"],
  [413, "PAYLOAD_TOO_LARGE", "PayloadTooLargeError"],
  [415, "UNSUPPORTED_MEDIA_TYPE", "UnsupportedMediaTypeError"],
  [422, "SETUP_FAILED", "SetupFailedError"],
  [429, "RESOURCE_LIMIT", "ResourceLimitError"],
  [500, "INTERNAL_ERROR", "InternalServerError"],
  [501, "NOT_IMPLEMENTED", "ServerNotImplementedError"],
  [502, "PREVIEW_UNREACHABLE", "PreviewUnreachableError"],
  [503, "UNAVAILABLE", "UnavailableError"],
  [503, "WORKER_UNAVAILABLE", "WorkerUnavailableError"],
  // the status decides the family: a code from another family does not move it
  [503, "TIMEOUT", "ProviderError"],
  [400, "WORKER_UNAVAILABLE", "BadRequestError"],
  [504, "", "ProviderError"],
  [418, "TEAPOT", "StacyVMError"],
];

for (const [status, code, expected] of CASES) {
  test(`HTTP ${status} ${code || "(no code)"} -> ${expected}`, () => {
    const headers = new Headers({ "X-Request-ID": "req-1", "Retry-After": "7" });
    const err = errorFromResponse(status, headers, JSON.stringify({ code, message: "boom" }), SB);
    assert.equal(err.constructor, stacyvm[expected]);
    assert.equal(err.name, expected);
    assert.ok(err instanceof stacyvm.StacyVMError && err instanceof Error);
    assert.equal(err.statusCode, status);
    assert.equal(err.requestId, "req-1");
    assert.equal(err.message, "boom");
    assert.equal(err.code, code);
    if (status >= 500) assert.ok(err instanceof stacyvm.ProviderError); // what 0.1.x callers catch
    if (status === 404) assert.equal(err.sandboxId, SB);
    if (status === 429) assert.equal(err.retryAfter, 7);
  });
}

test("errors without an envelope", () => {
  const e401 = errorFromResponse(401, new Headers(), "", undefined, "Unauthorized");
  assert.ok(e401 instanceof stacyvm.UnauthorizedError);
  assert.equal(e401.code, "UNAUTHORIZED");
  assert.equal(e401.message, "HTTP 401 Unauthorized");
  const e502 = errorFromResponse(502, new Headers(), "<html>bad gateway</html>");
  assert.ok(e502 instanceof stacyvm.ProviderError);
  assert.equal(e502.message, "<html>bad gateway</html>");
  const e404 = errorFromResponse(404, new Headers(), "");
  assert.ok(e404 instanceof stacyvm.NotFoundError);
  assert.equal(e404.sandboxId, undefined);
  assert.equal(e404.code, "NOT_FOUND");
  const e429 = errorFromResponse(429, new Headers({ "Retry-After": "soon" }), "{}");
  assert.equal(e429.retryAfter, undefined);
});

test("0.1.x names and signatures are kept", async () => {
  assert.equal(stacyvm.ForgevmError, stacyvm.StacyVMError);
  assert.equal(stacyvm.NotFoundError, stacyvm.SandboxNotFoundError);
  const nf = new stacyvm.SandboxNotFoundError("sb-x");
  assert.equal(nf.message, "Sandbox 'sb-x' not found");
  assert.equal(nf.sandboxId, "sb-x");
  assert.equal(nf.code, "NOT_FOUND");
  assert.equal(nf.statusCode, 404);
  const pe = new stacyvm.ProviderError("down");
  assert.equal(pe.code, "PROVIDER_ERROR");
  const ce = new stacyvm.ConnectionError("refused");
  assert.equal(ce.code, "CONNECTION_ERROR");
  assert.equal(new stacyvm.StacyVMError("m", "C", 418).statusCode, 418);
  for (const name of ["Client", "Sandbox", "TemplateManager", "handleResponse", "parseNDJSON"]) {
    assert.equal(typeof stacyvm[name], "function", name);
  }
  // handleResponse (0.1.x helper): no-op on success, typed error otherwise.
  await handleResponse(new Response("{}", { status: 200 }));
  await rejectsWith(
    handleResponse(new Response(JSON.stringify({ code: "NOT_FOUND", message: "gone" }), { status: 404 }), SB),
    stacyvm.SandboxNotFoundError,
    { sandboxId: SB, message: "gone" },
  );
});

test("VERSION and User-Agent match package.json", () => {
  const pkg = JSON.parse(readFileSync(path.join(SDK_ROOT, "package.json"), "utf8"));
  assert.equal(stacyvm.VERSION, pkg.version);
  assert.equal(stacyvm.USER_AGENT, `stacyvm-js/${pkg.version}`);
  assert.equal(pkg.type, "module");
  assert.deepStrictEqual(pkg.dependencies ?? {}, {});
});

// --- requests ------------------------------------------------------------------------------------

test("default headers: User-Agent, X-Admin-API-Key, extra headers; none leak between requests", async () => {
  answer({ json: { status: "ok", version: "t", uptime: "1s" } });
  await client({ adminApiKey: "adm", headers: { "X-Extra": "1" } }).health();
  const h = rec.requests[0].headers;
  assert.equal(h["user-agent"], stacyvm.USER_AGENT);
  assert.equal(h["x-admin-api-key"], "adm");
  assert.equal(h["x-api-key"], "k");
  assert.equal(h["x-extra"], "1");
  assert.equal(h["x-user-id"], undefined);
  answer({ status: 201, json: { id: SB, state: "running" } });
  const c = client();
  await c.spawn({ idempotency_key: "i-1" });
  await c.spawn();
  assert.equal(rec.requests[0].headers["idempotency-key"], "i-1");
  assert.equal(rec.requests[1].headers["idempotency-key"], undefined);
});

test("path segments are percent-encoded", async () => {
  answer({ json: { owner_id: "a b/c", max_sandboxes: 0 } });
  await client().getQuota("a b/c");
  assert.equal(rec.requests[0].url, "/api/v1/quotas/a%20b%2Fc");
  answer({ json: { name: "t" } });
  await client().templates.get("x/y");
  assert.equal(rec.requests[0].url, "/api/v1/templates/x%2Fy");
  answer({ json: { id: "sb-?", state: "running" } });
  await client().get("sb-?");
  assert.equal(rec.requests[0].url, "/api/v1/sandboxes/sb-%3F");
  answer({ json: [] });
  await sandbox().listFiles("/a b&c");
  assert.equal(new URL(rec.requests[0].url, "http://x").searchParams.get("path"), "/a b&c");
});

test("getReady resolves with the body of a 503", async () => {
  answer({ status: 503, json: { status: "not_ready", providers: [] } });
  assert.equal((await client().getReady()).status, "not_ready");
  // elsewhere a 503 without an envelope code is a plain ProviderError
  await rejectsWith(client().health(), stacyvm.ProviderError, { statusCode: 503, code: "" });
});

test("exec truncation headers", async () => {
  rec.requests.length = 0;
  rec.setResponder((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json", "X-Stacyvm-Stdout-Truncated": "true" });
    res.end(JSON.stringify({ exit_code: 0, stdout: "x", stderr: "", duration: "1ms" }));
  });
  const result = await sandbox().exec("yes");
  assert.equal(result.stdout_truncated, true);
  assert.equal(result.stderr_truncated, undefined);
});

test("unreadable success bodies are InvalidResponseError", async () => {
  answer({ text: "not json" });
  await rejectsWith(client().health(), stacyvm.InvalidResponseError, { statusCode: 200, requestId: "rec-1" });
  answer({ json: { nope: 1 } });
  await rejectsWith(client().prune(), stacyvm.InvalidResponseError);
  answer({ json: { items: "x" } });
  await rejectsWith(client().list(), stacyvm.InvalidResponseError);
  answer({ json: { stdout: "" } });
  await rejectsWith(sandbox().exec("true"), stacyvm.InvalidResponseError);
  answer({ json: {} });
  await rejectsWith(client().providers(), stacyvm.InvalidResponseError);
});

test("pages: a wrapped list carries nextCursor", async () => {
  answer({ json: { items: [{ name: "a" }], next_cursor: "c2" } });
  const page = await client().templates.list({ limit: 1 });
  assert.deepStrictEqual([...page], [{ name: "a" }]);
  assert.equal(page.nextCursor, "c2");
  assert.deepStrictEqual(page, [{ name: "a" }]); // compares (and serialises) as the plain array
  assert.equal(JSON.stringify(page), '[{"name":"a"}]');
  assert.equal(new URL(rec.requests[0].url, "http://x").searchParams.get("limit"), "1");
  answer({ json: [{ owner_id: "o" }] });
  const plain = await client().listQuotas();
  assert.equal(plain.nextCursor, null);
});

test("templates.save replaces the template on 409", async () => {
  rec.requests.length = 0;
  rec.setResponder((req, res) =>
    req.method === "POST"
      ? writeSpec(res, { status: 409, json: { code: "CONFLICT", message: "exists" } })
      : writeSpec(res, { json: { name: "py", image: "python:3.13", version: 2 } }),
  );
  const saved = await client().templates.save({ name: "py", image: "python:3.13" });
  assert.equal(saved.version, 2);
  assert.deepStrictEqual(rec.requests.map((r) => `${r.method} ${r.url}`), ["POST /api/v1/templates", "PUT /api/v1/templates/py"]);
  rec.setResponder((_req, res) => writeSpec(res, { status: 400, json: { code: "BAD_REQUEST", message: "no" } }));
  await rejectsWith(client().templates.save({ name: "py", image: "" }), stacyvm.BadRequestError);
});

test("a custom fetch is used", async () => {
  const seen = [];
  const c = new Client({
    baseUrl: "http://sdk.test",
    fetch: async (url, init) => {
      seen.push([String(url), init.method]);
      return new Response(JSON.stringify({ pruned: 3 }), { status: 200 });
    },
  });
  assert.equal(await c.prune(), 3);
  assert.deepStrictEqual(seen, [["http://sdk.test/api/v1/sandboxes", "DELETE"]]);
});

test("a request without an answer times out with ClientTimeoutError", async () => {
  rec.requests.length = 0;
  rec.setResponder(() => {}); // never answers
  const started = Date.now();
  await rejectsWith(client({ timeout: 300 }).health(), stacyvm.ClientTimeoutError, { code: "CLIENT_TIMEOUT" });
  assert.ok(Date.now() - started < 2500);
  await rejectsWith(sandbox(client({ timeout: 300 })).execStream("x").wait(), stacyvm.ClientTimeoutError);
});

// --- streams -------------------------------------------------------------------------------------

test("parseFrame", () => {
  assert.deepStrictEqual(parseFrame('{"stream":"stdout","data":"x"}'), { stream: "stdout", data: "x" });
  assert.equal(parseFrame(""), undefined);
  assert.equal(parseFrame("   "), undefined);
  assert.equal(parseFrame("not json"), undefined);
  assert.equal(parseFrame("[1,2]"), undefined);
  assert.equal(parseFrame("null"), undefined);
});

test("exec streams skip keep-alives and junk and keep the exit frame", async () => {
  answer({
    ndjson: [
      "",
      '{"stream":"stdout","data":"a"}',
      "garbage",
      "[1]",
      '{"stream":"stderr","data":"b"}',
      '{"stream":"exit","exit_code":-1,"duration":"5s","timed_out":true,"error":{"code":"TIMEOUT","message":"exec timeout"}}',
    ],
  });
  const stream = sandbox().execStream("x");
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.deepStrictEqual(chunks, [
    { stream: "stdout", data: "a" },
    { stream: "stderr", data: "b" },
  ]);
  assert.deepStrictEqual(stream.exit, {
    exit_code: -1,
    duration: "5s",
    timed_out: true,
    error: { code: "TIMEOUT", message: "exec timeout" },
  });
  assert.deepStrictEqual(JSON.parse(rec.requests[0].body.toString()), { command: "x", stream: true });
});

test("a stream without its exit frame throws StreamError", async () => {
  answer({ ndjson: ['{"stream":"stdout","data":"a"}'] });
  const stream = sandbox().execStream("x");
  assert.equal((await stream.next()).value.data, "a");
  await rejectsWith(stream.next(), stacyvm.StreamError, { code: "STREAM_ERROR" });
  answer({ ndjson: [] });
  await rejectsWith(sandbox().streamLogs().wait(), stacyvm.StreamError);
});

test("a stream's error status is a typed error", async () => {
  answer({ status: 404, json: { code: "NOT_FOUND", message: "sandbox not found" } });
  await rejectsWith(sandbox().execStream("x").wait(), stacyvm.SandboxNotFoundError, { sandboxId: SB });
  answer({ status: 401, json: { code: "UNAUTHORIZED", message: "no" } });
  await rejectsWith(client().streamEvents().next(), stacyvm.UnauthorizedError);
});

test("a connection cut mid-stream is a ConnectionError", async () => {
  rec.requests.length = 0;
  rec.setResponder((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    res.write('{"stream":"stdout","data":"a"}\n');
    setTimeout(() => res.socket.destroy(), 50);
  });
  const stream = sandbox().execStream("x");
  assert.equal((await stream.next()).value.data, "a");
  await rejectsWith(stream.next(), stacyvm.ConnectionError);
});

test("lines split across reads and multi-byte characters are reassembled", async () => {
  rec.requests.length = 0;
  rec.setResponder((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    const body = Buffer.from('{"stream":"stdout","data":"h\u00e9\u20ac"}\r\n{"stream":"exit","exit_code":0,"duration":"1ms"}');
    let i = 0;
    const step = () => {
      if (i >= body.length) return res.end();
      res.write(body.subarray(i, i + 3));
      i += 3;
      setImmediate(step);
    };
    step();
  });
  const stream = sandbox().execStream("x");
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.deepStrictEqual(chunks, [{ stream: "stdout", data: "h\u00e9\u20ac" }]);
  assert.equal(stream.exit.exit_code, 0); // the last line had no newline
});

test("parseNDJSON (0.1.x helper) yields every frame, the exit frame included", async () => {
  const body = new Response('{"stream":"stdout","data":"a"}\n\nnot json\n{"stream":"exit","exit_code":0}').body;
  const chunks = [];
  for await (const c of parseNDJSON(body)) chunks.push(c);
  assert.deepStrictEqual(chunks, [
    { stream: "stdout", data: "a" },
    { stream: "exit", data: "" },
  ]);
});

test("SSE parser", () => {
  const p = new SSEParser();
  const feed = (lines) => lines.map((l) => p.feed(l)).filter(Boolean);
  assert.deepStrictEqual(feed(["retry: 3000", "", ": ping", ""]), []);
  const events = feed([
    "id: 7",
    "event: sandbox.created",
    'data: {"id":"evt-7",',
    'data: "type":"sandbox.created","timestamp":"t"}',
    "",
    "data: not json",
    "",
    "id: 8",
    'data:{"id":"evt-8","type":"x","timestamp":"t"}',
    "",
  ]);
  assert.deepStrictEqual(events.map((e) => e.id), ["evt-7", "evt-8"]);
  assert.equal(events[0].type, "sandbox.created");
  assert.equal(p.lastEventId, "8");
});

test("event streams parse server-sent events and send their filters", async () => {
  answer({ sse: 'retry: 3000\n\n: ping\n\nid: 43\ndata: {"id":"evt-43","type":"sandbox.created","timestamp":"t"}\n\n' });
  const events = client().streamEvents({ types: ["a.*", "b"], named: false, last_event_id: "evt-42" });
  const all = [];
  for await (const e of events) all.push(e); // ends when the server closes
  assert.deepStrictEqual(all.map((e) => e.id), ["evt-43"]);
  assert.equal(events.lastEventId, "43");
  const q = new URL(rec.requests[0].url, "http://x").searchParams;
  assert.equal(q.get("types"), "a.*,b");
  assert.equal(q.get("named"), "false");
  assert.equal(q.get("last_event_id"), "evt-42");
  assert.equal(rec.requests[0].headers.accept, "text/event-stream");
});

test("execStream is its own async iterator and sends nothing until iterated", async () => {
  answer({ ndjson: ['{"stream":"exit","exit_code":0,"duration":"1ms"}'] });
  const stream = sandbox().execStream("x");
  assert.ok(stream instanceof ExecStream);
  assert.equal(stream[Symbol.asyncIterator](), stream);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(rec.requests.length, 0);
  assert.equal((await stream.wait()).exit_code, 0);
  assert.equal(rec.requests.length, 1);
});
