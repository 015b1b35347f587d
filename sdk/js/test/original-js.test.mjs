// Replays sdk/parity/original-js-0.1.json against a live `stacyvm serve`: the
// requests the original JS SDK 0.1.x sends, byte for byte as it builds them
// (that package cannot be installed here), and checks that every response
// field it reads is present with the right JSON type.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { REPO_ROOT, startServer, unique } from "./helpers/server.mjs";

const TABLE = JSON.parse(readFileSync(path.join(REPO_ROOT, "sdk/parity/original-js-0.1.json"), "utf8"));

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** Replace $name placeholders in every string of `value`. */
function substitute(value, vars) {
  if (typeof value === "string") {
    return value.replace(/\$([a-z_0-9]+)/g, (_m, name) => {
      assert.ok(name in vars, `unknown placeholder $${name}`);
      return vars[name];
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  }
  return value;
}

/** Check `value` against a reads spec: "type" / "type?", [spec], or {field: spec}. */
function checkType(value, spec, where) {
  if (typeof spec === "string") {
    const optional = spec.endsWith("?");
    const type = optional ? spec.slice(0, -1) : spec;
    if (value === undefined) {
      assert.ok(optional, `${where} is missing`);
      return;
    }
    const ok = {
      string: () => typeof value === "string",
      number: () => typeof value === "number",
      integer: () => Number.isInteger(value),
      boolean: () => typeof value === "boolean",
      object: () => value !== null && typeof value === "object" && !Array.isArray(value),
      array: () => Array.isArray(value),
      null: () => value === null,
    }[type];
    assert.ok(ok, `unknown type ${type} at ${where}`);
    assert.ok(ok(), `${where} is ${JSON.stringify(value)}, not ${type}`);
    return;
  }
  if (Array.isArray(spec)) {
    assert.ok(Array.isArray(value), `${where} is not an array`);
    value.forEach((item, i) => checkType(item, spec[0], `${where}[${i}]`));
    return;
  }
  assert.ok(value !== null && typeof value === "object" && !Array.isArray(value), `${where} is not an object`);
  for (const [field, fieldSpec] of Object.entries(spec)) checkType(value[field], fieldSpec, `${where}.${field}`);
}

/** What 0.1.x's parseNDJSON yields for a body. */
function chunksOf(text) {
  const chunks = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let obj;
    try {
      obj = JSON.parse(line);
    } catch {
      continue;
    }
    chunks.push({ obj, chunk: { stream: obj.stream ?? "stdout", data: obj.data ?? "" } });
  }
  return chunks;
}

test("the reads checker rejects what 0.1.x could not read", () => {
  const ok = (value, spec) => checkType(value, spec, "r");
  const bad = (value, spec) => assert.throws(() => checkType(value, spec, "r"), assert.AssertionError);
  ok({ a: "x", b: 1, c: true, d: {}, e: [] }, { a: "string", b: "integer", c: "boolean", d: "object", e: "array" });
  ok({}, { a: "string?" });
  ok([{ n: 1 }, { n: 2 }], [{ n: "integer" }]);
  bad({ a: 1 }, { a: "string" });
  bad({}, { a: "string" });
  bad({ a: null }, { a: "string?" });
  bad({ n: 1.5 }, { n: "integer" });
  bad({ d: [] }, { d: "object" });
  bad([{ n: 1 }, { n: "2" }], [{ n: "integer" }]);
  bad({ a: 1 }, [{ a: "integer" }]);
  bad("x", { a: "string?" });
});

test("every 0.1.x public method is in the table", () => {
  const calls = TABLE.steps.map((s) => s.call).join("\n");
  const methods = [
    "client.spawn", "client.admission", "client.get", "client.list", "client.prune", "client.health",
    "client.providers", "client.poolStatus", "client.quotaSummary", "client.withSandbox",
    "sandbox.exec", "sandbox.execStream", "sandbox.writeFile", "sandbox.readFile", "sandbox.listFiles",
    "sandbox.deleteFile", "sandbox.moveFile", "sandbox.chmodFile", "sandbox.statFile", "sandbox.globFiles",
    "sandbox.extendTtl", "sandbox.destroy", "sandbox.refresh",
    "client.templates.list", "client.templates.get", "client.templates.save", "client.templates.delete",
    "client.templates.spawn",
  ];
  for (const m of methods) assert.ok(calls.includes(`${m}(`), `no step calls ${m}`);
});

test("the original JS SDK 0.1.x requests, replayed", async (t) => {
  const vars = { api_key: server.apiKey, template: unique("js01-tpl") };
  for (const step of TABLE.steps) {
    await t.test(step.name, async () => {
      const req = substitute(step.request, vars);
      let url = server.url + req.path;
      if (Object.keys(req.query).length > 0) url += "?" + new URLSearchParams(req.query).toString();
      const init = { method: req.method, headers: req.headers };
      if ("body" in req) {
        assert.equal(req.headers["Content-Type"], "application/json", "0.1.x sends Content-Type with every body");
        init.body = JSON.stringify(req.body);
      } else {
        assert.equal(req.headers["Content-Type"], undefined, "no Content-Type without a body");
      }
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
      const text = await response.text();
      assert.equal(response.status, step.status, `${req.method} ${req.path}: ${text.slice(0, 300)}`);

      if (step.response === "ignored") return;
      if (step.response === "text") {
        assert.equal(text, substitute(step.text, vars));
        return;
      }
      if (step.response === "ndjson") {
        const parsed = chunksOf(text);
        const frames = parsed.map((p) => p.obj);
        assert.ok(frames.length > 0, "no frames");
        checkType(frames, step.reads, "frames");
        assert.deepStrictEqual(parsed.map((p) => p.chunk), step.chunks);
        return;
      }
      assert.equal(step.response, "json");
      const body = JSON.parse(text);
      checkType(body, step.reads, "response");
      if (Array.isArray(step.reads)) assert.ok(body.length > 0, "empty array");
      if (step.exact_keys) assert.deepStrictEqual(Object.keys(body), Object.keys(step.reads));
      if (step.expect !== undefined) {
        const expect = substitute(step.expect, vars);
        if (Array.isArray(expect)) {
          assert.deepStrictEqual(body, expect);
        } else {
          for (const [field, value] of Object.entries(expect)) assert.deepStrictEqual(body[field], value, field);
        }
      }
      for (const [name, field] of Object.entries(step.capture ?? {})) {
        assert.equal(typeof body[field], "string", `capture ${field}`);
        vars[name] = body[field];
      }
    });
  }
});
