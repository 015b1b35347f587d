// Parity: the requests the JS SDK sends for the shared table sdk/parity/calls.json.
//
// Each case is replayed through the SDK against a local recording HTTP server
// that answers the case's canned response. Compared (spec README §6): method,
// decoded path and query, the JSON body after dropping fields equal to the
// server default, a raw body, and the headers X-API-Key, X-User-ID,
// X-Tenant-ID, Idempotency-Key (absent unless the case lists them) and, with
// a body, Content-Type. The same cases against a refused connection check that
// every call throws ConnectionError.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import * as stacyvm from "../dist/index.js";
import { Client, EventStream, ExecStream, LogStream, Sandbox } from "../dist/index.js";
import { freePort, REPO_ROOT } from "./helpers/server.mjs";
import { startRecorder, writeSpec } from "./helpers/recorder.mjs";

const TABLE = JSON.parse(readFileSync(path.join(REPO_ROOT, "sdk/parity/calls.json"), "utf8"));
const OPENAPI = JSON.parse(readFileSync(path.join(REPO_ROOT, "openapi/openapi.json"), "utf8"));
const MAP = JSON.parse(readFileSync(path.join(REPO_ROOT, "sdk/js/operation-map.json"), "utf8"));
const COMPARED_HEADERS = ["X-API-Key", "X-User-ID", "X-Tenant-ID", "Idempotency-Key"];

function decodeArg(value) {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "$bytes" in value) {
    return new Uint8Array(Buffer.from(value.$bytes, "base64"));
  }
  return value;
}

function clientOptions(c) {
  const o = c.client ?? TABLE.default_client;
  const opts = {};
  if (o.api_key) opts.apiKey = o.api_key;
  if (o.user_id) opts.userId = o.user_id;
  if (o.tenant_id) opts.tenantId = o.tenant_id;
  if (o.admin_api_key) opts.adminApiKey = o.admin_api_key;
  return opts;
}

function dropDefaults(operation, body) {
  const defaults = TABLE.server_defaults[operation] ?? {};
  if (body === null || typeof body !== "object" || Array.isArray(body)) return body;
  return Object.fromEntries(
    Object.entries(body).filter(([k, v]) => {
      if (!(k in defaults)) return true;
      try {
        assert.deepStrictEqual(v, defaults[k]);
        return false;
      } catch {
        return true;
      }
    }),
  );
}

/** Drain streams (events: only the first) so their request is sent. */
async function consume(result) {
  if (result instanceof EventStream) {
    const first = await result.next();
    await result.close();
    return first;
  }
  if (result instanceof ExecStream || result instanceof LogStream) {
    const items = [];
    for await (const item of result) items.push(item);
    assert.ok(result.exit, "stream ended without its exit frame");
    return items;
  }
  return await result;
}

async function run(c, baseUrl) {
  const client = new Client({ baseUrl, timeout: 5000, ...clientOptions(c) });
  const target = {
    client,
    templates: client.templates,
    // No I/O: a sandbox handle for the table's ID (as Python builds Sandbox(client._http, id)).
    sandbox: new Sandbox(client._transport, { id: TABLE.sandbox_id }),
  }[c.js.target];
  const method = target[c.js.method];
  assert.equal(typeof method, "function", `${c.js.target}.${c.js.method} is not a method`);
  return consume(method.apply(target, c.js.args.map(decodeArg)));
}

function header(recorded, name) {
  const value = recorded.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}

function checkRequest(c, requests) {
  const expected = c.request;
  assert.equal(requests.length, 1, `${c.name}: sent ${requests.length} requests`);
  const req = requests[0];
  assert.equal(req.method, expected.method);
  const url = new URL(req.url, "http://recorder.test");
  assert.equal(decodeURIComponent(url.pathname), expected.path);
  const query = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0] : values;
  }
  assert.deepStrictEqual(query, expected.query);

  let contentType;
  if ("body" in expected) {
    const sent = JSON.parse(req.body.toString("utf8"));
    assert.deepStrictEqual(dropDefaults(c.operation, sent), dropDefaults(c.operation, expected.body));
    contentType = "application/json";
  } else if ("body_base64" in expected) {
    assert.deepStrictEqual(req.body, Buffer.from(expected.body_base64, "base64"));
    contentType = "application/octet-stream";
  } else {
    assert.equal(req.body.length, 0, `${c.name}: unexpected body ${req.body.toString()}`);
  }
  assert.equal(header(req, "Content-Type"), contentType, "Content-Type");
  for (const name of COMPARED_HEADERS) {
    assert.equal(header(req, name), expected.headers[name], `header ${name}`);
  }
}

let recorder;
before(async () => {
  recorder = await startRecorder();
});
after(async () => {
  await recorder?.close();
});

describe("request parity with sdk/parity/calls.json", () => {
  for (const c of TABLE.cases) {
    test(c.name, async () => {
      assert.ok(c.js, `case ${c.name} has no js call entry`);
      recorder.requests.length = 0;
      recorder.setResponder((_req, res) => writeSpec(res, c.response));
      await run(c, recorder.url);
      checkRequest(c, recorder.requests);
    });
  }
});

describe("connection errors are wrapped on every call", () => {
  let deadUrl;
  before(async () => {
    deadUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens: connection refused
  });
  for (const c of TABLE.cases) {
    test(c.name, async () => {
      await assert.rejects(run(c, deadUrl), (err) => {
        assert.ok(err instanceof stacyvm.ConnectionError, `${err?.constructor?.name}: ${err?.message}`);
        assert.ok(err instanceof stacyvm.StacyVMError);
        assert.equal(err.code, "CONNECTION_ERROR");
        return true;
      });
    });
  }
});

test("the table covers every operation the JS map does not exclude", () => {
  const operations = new Set();
  for (const item of Object.values(OPENAPI.paths)) {
    for (const op of Object.values(item)) {
      if (op && typeof op === "object" && op.operationId) operations.add(op.operationId);
    }
  }
  const covered = new Set(TABLE.cases.map((c) => c.operation));
  const missing = [...operations].filter((op) => !covered.has(op) && !(op in MAP.excluded));
  assert.deepStrictEqual(missing, []);
  for (const op of covered) assert.ok(operations.has(op), `the table names ${op}, which openapi.json lacks`);
  // Some case of each operation calls the method the operation map names for it.
  const owners = { client: "Client", templates: "Client.templates", sandbox: "Sandbox" };
  for (const op of covered) {
    const mapped = MAP.operations[op];
    assert.ok(mapped, `${op} is not mapped in sdk/js/operation-map.json`);
    const calls = TABLE.cases.filter((c) => c.operation === op).map((c) => `${owners[c.js.target]}.${c.js.method}`);
    assert.ok(calls.includes(mapped), `no case of ${op} calls ${mapped} (cases call ${calls.join(", ")})`);
  }
});
