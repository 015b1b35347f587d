// Live tests of Client and TemplateManager against a real `stacyvm serve` (mock provider).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import * as stacyvm from "../dist/index.js";
import { Client, Sandbox } from "../dist/index.js";
import { freePort, startServer, unique } from "./helpers/server.mjs";

let server;
let client; // api-role key: what an SDK user normally holds
let admin; // admin key

before(async () => {
  server = await startServer();
  client = server.client();
  admin = server.admin();
});
after(async () => {
  await server?.stop();
});

/** assert.rejects with the error class, plus optional field checks. */
async function rejectsWith(promise, cls, fields = {}) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
    for (const [k, v] of Object.entries(fields)) assert.equal(err[k], v, k);
    return true;
  });
}

// --- system ----------------------------------------------------------------------

test("system documents", async () => {
  const health = await client.health();
  assert.equal(health.status, "ok");
  assert.ok(health.version && health.uptime);
  assert.equal((await client.getLive()).status, "alive");
  const ready = await client.getReady();
  assert.ok(["ready", "not_ready"].includes(ready.status));
  assert.equal(ready.checks.store, "ok");
  assert.ok("sandboxes" in (await client.getMetrics()));
  assert.match(await client.getPrometheusMetrics(), /# TYPE stacyvm_uptime_seconds gauge/);
  assert.deepStrictEqual(await client.poolStatus(), { enabled: false });
  const doc = await client.getOpenAPIDocument();
  assert.match(doc.openapi, /^3\.1/);
  const swagger = await client.getSwaggerDocument();
  assert.deepStrictEqual(Object.keys(swagger.paths), Object.keys(doc.paths));
});

test("providers", async () => {
  const providers = await client.providers();
  const mock = providers.find((p) => p.name === "mock");
  assert.ok(mock && mock.healthy && mock.default && mock.capabilities.includes("exec"));
  const detail = await client.getProvider("mock");
  assert.equal(detail.name, "mock");
  assert.equal(typeof detail.config, "object");
  assert.equal((await admin.testProviders()).mock, true);
  await rejectsWith(client.testProviders(), stacyvm.ForbiddenError, { statusCode: 403, code: "FORBIDDEN" });
  await rejectsWith(client.getProvider("no-such-provider"), stacyvm.NotFoundError, { statusCode: 404 });
});

// --- sandboxes -------------------------------------------------------------------

test("spawn, get, list, destroy", async () => {
  const sb = await client.spawn({ memory_mb: 256, vcpus: 1, ttl: "10m", metadata: { who: "test" } });
  try {
    assert.ok(sb instanceof Sandbox);
    assert.match(sb.id, /^sb-[0-9a-f]{24}$/);
    assert.equal(sb.state, "running");
    assert.equal(sb.provider, "mock");
    assert.equal(sb.image, "alpine:latest");
    assert.equal(sb.memoryMb, 256);
    assert.equal(sb.vcpus, 1);
    assert.deepStrictEqual(sb.info.metadata, { who: "test" });
    const again = await client.get(sb.id);
    assert.equal(again.id, sb.id);
    assert.equal(again.workerId, "local");
    const listed = await client.list();
    assert.ok(Array.isArray(listed));
    assert.equal(listed.nextCursor, null);
    const info = listed.find((s) => s.id === sb.id);
    assert.ok(info && info.preview_domain && info.state === "running");
    assert.ok((await client.list({ state: "running", provider: "mock" })).some((s) => s.id === sb.id));
    assert.ok(!(await client.list({ state: "expired" })).some((s) => s.id === sb.id));
  } finally {
    await sb.destroy();
  }
  assert.equal(sb.state, "destroyed");
  assert.ok(!(await client.list()).some((s) => s.id === sb.id));
  await rejectsWith(client.get(sb.id), stacyvm.SandboxNotFoundError, { sandboxId: sb.id, code: "NOT_FOUND" });
});

test("list pages", async () => {
  const a = await client.spawn();
  const b = await client.spawn();
  try {
    const seen = [];
    let cursor;
    for (let i = 0; i < 100; i++) {
      const page = await client.list({ limit: 1, cursor });
      assert.ok(page.length <= 1);
      seen.push(...page.map((s) => s.id));
      cursor = page.nextCursor ?? undefined;
      if (cursor === undefined) break;
    }
    assert.ok(seen.includes(a.id) && seen.includes(b.id));
  } finally {
    await a.destroy();
    await b.destroy();
  }
});

test("an operator lists destroyed sandboxes", async () => {
  const sb = await client.spawn();
  await sb.destroy();
  assert.ok((await admin.list({ include_destroyed: true })).some((s) => s.id === sb.id));
});

test("spawn with an idempotency key", async () => {
  const key = unique("idem");
  const first = await client.spawn({ idempotency_key: key });
  try {
    const second = await client.spawn({ idempotency_key: key });
    assert.equal(second.id, first.id);
    await rejectsWith(client.spawn({ ttl: "5m", idempotency_key: key }), stacyvm.ConflictError, { statusCode: 409 });
  } finally {
    await first.destroy();
  }
});

test("userId, tenantId and adminApiKey options send their headers", async () => {
  const owner = unique("owner");
  const acting = new Client({ baseUrl: server.url, apiKey: server.adminKey, userId: owner, tenantId: "t-js" });
  const sb = await acting.spawn();
  try {
    assert.equal(sb.info.owner_id, owner);
    assert.equal(sb.info.tenant_id, "t-js");
    assert.deepStrictEqual((await acting.list({ owner_id: owner })).map((s) => s.id), [sb.id]);
  } finally {
    await sb.destroy();
  }
  const viaAdminHeader = new Client({ baseUrl: server.url, adminApiKey: server.adminKey });
  assert.ok((await viaAdminHeader.listAPIKeys()).length >= 1);
});

test("constructor forms: URL string, host and port, extra headers", async () => {
  assert.equal((await new Client(server.url).health()).status, "ok");
  assert.equal((await new Client(server.url + "/").health()).status, "ok");
  assert.equal(new Client(server.url + "/").baseUrl, server.url);
  const hostPort = new Client({ host: "127.0.0.1", port: server.port, apiKey: server.apiKey });
  assert.equal(hostPort.baseUrl, server.url);
  assert.ok(Array.isArray(await hostPort.list()));
  assert.equal(new Client().baseUrl, "http://localhost:7423");
  const tagged = new Client({ baseUrl: server.url, apiKey: "wrong", headers: { "X-Request-ID": "js-req-1" } });
  await rejectsWith(tagged.list(), stacyvm.UnauthorizedError, { requestId: "js-req-1" });
});

test("admission", async () => {
  const decision = await client.admission({ image: "alpine:latest", ttl: "10m" });
  assert.deepStrictEqual(Object.keys(decision), [
    "allowed",
    "queueable",
    "reason",
    "active_sandboxes",
    "max_sandboxes",
    "active_owner_sandboxes",
    "max_owner_sandboxes",
    "max_ttl",
  ]);
  assert.equal(decision.allowed, true);
  assert.equal(decision.queueable, false);
  assert.equal(decision.reason, "");
  assert.equal(decision.max_ttl, "24h0m0s");
  const over = await client.admission({ ttl: "48h" });
  assert.equal(over.allowed, false);
  assert.equal(over.reason, "max_ttl");
  await rejectsWith(client.admission({ ttl: "not-a-duration" }), stacyvm.BadRequestError);
});

test("prune", async () => {
  const pruned = await client.prune();
  assert.ok(Number.isInteger(pruned) && pruned >= 0);
});

test("spawn errors are typed", async () => {
  await assert.rejects(client.spawn({ ttl: "-1m" }), (err) => {
    assert.ok(err instanceof stacyvm.BadRequestError);
    assert.equal(err.code, "BAD_REQUEST");
    assert.equal(err.statusCode, 400);
    assert.ok(err.requestId);
    return true;
  });
  await rejectsWith(client.spawn({ provider: "no-such-provider" }), stacyvm.BadRequestError);
  await rejectsWith(client.spawn({ ttl: "100h" }), stacyvm.ResourceLimitError, { statusCode: 429, code: "RESOURCE_LIMIT" });
  await rejectsWith(client.get("sb-nonexistent"), stacyvm.SandboxNotFoundError, { sandboxId: "sb-nonexistent" });
});

test("withSandbox destroys the sandbox, also when the callback throws", async () => {
  let id;
  const out = await client.withSandbox({ ttl: "5m" }, async (sb) => {
    id = sb.id;
    return (await sb.exec("echo inside")).stdout;
  });
  assert.equal(out, "inside\n");
  await rejectsWith(client.get(id), stacyvm.SandboxNotFoundError);
  let id2;
  await assert.rejects(
    client.withSandbox({}, async (sb) => {
      id2 = sb.id;
      throw new RangeError("user code failed");
    }),
    RangeError,
  );
  await rejectsWith(client.get(id2), stacyvm.SandboxNotFoundError);
});

// --- templates -------------------------------------------------------------------

test("templates", async () => {
  const name = unique("tpl");
  const created = await client.templates.save({
    name,
    image: "alpine:latest",
    memory_mb: 256,
    ttl: "1h",
    metadata: { lang: "sh" },
  });
  try {
    assert.equal(created.name, name);
    assert.equal(created.version, 1);
    assert.equal(created.ttl, "1h");
    assert.ok(created.created_at);
    // save() on an existing name replaces it
    const updated = await client.templates.save({ name, image: "alpine:3", description: "v2" });
    assert.equal(updated.version, 2);
    assert.equal(updated.image, "alpine:3");
    assert.equal(updated.description, "v2");
    const replaced = await client.templates.replace({
      name,
      image: "alpine:latest",
      env: { GREETING: "hi" },
      metadata: { k: "v" },
    });
    assert.equal(replaced.version, 3);
    assert.deepStrictEqual(replaced.env, { GREETING: "hi" });
    assert.equal(replaced.created_at, created.created_at);
    assert.deepStrictEqual(await client.templates.get(name), replaced);
    assert.ok((await client.templates.list()).some((t) => t.name === name));
    const page = await client.templates.list({ limit: 1 });
    assert.equal(page.length, 1);
    assert.ok(page.nextCursor === null || typeof page.nextCursor === "string");

    const sb = await client.templates.spawn(name);
    try {
      assert.equal(sb.info.template, name);
      assert.equal(sb.info.metadata.template, name);
      assert.equal((await sb.exec("echo $GREETING")).stdout, "hi\n");
    } finally {
      await sb.destroy();
    }
    const sb2 = await client.templates.spawn(name, { ttl: "5m", metadata: { run: "2" } });
    try {
      assert.equal(sb2.info.metadata.run, "2");
    } finally {
      await sb2.destroy();
    }
    const sb3 = await client.spawn({ template: name });
    try {
      assert.equal(sb3.info.template, name);
      assert.equal(sb3.image, "alpine:latest");
    } finally {
      await sb3.destroy();
    }
  } finally {
    await client.templates.delete(name);
  }
  await rejectsWith(client.templates.get(name), stacyvm.NotFoundError);
  await assert.rejects(client.templates.spawn(name), (err) => {
    // the server answers 400 "unknown template"
    assert.ok(err instanceof stacyvm.NotFoundError || err instanceof stacyvm.BadRequestError, String(err));
    return true;
  });
});

test("a failing template setup is a SetupFailedError", async () => {
  const name = unique("tpl-setup");
  await client.templates.save({ name, image: "alpine:latest", setup: ["exit 3"] });
  try {
    await rejectsWith(client.templates.spawn(name), stacyvm.SetupFailedError, { statusCode: 422 });
  } finally {
    await client.templates.delete(name);
  }
});

// --- quotas ----------------------------------------------------------------------

test("quotas", async () => {
  const owner = unique("quota-owner");
  const before = await client.quotaSummary();
  assert.deepStrictEqual(Object.keys(before), ["total", "with_max_sandboxes", "with_max_ttl", "with_max_exec_timeout"]);
  const quota = await admin.putQuota(owner, { max_sandboxes: 2, max_ttl: "2h" });
  try {
    assert.equal(quota.owner_id, owner);
    assert.equal(quota.max_sandboxes, 2);
    assert.equal(quota.max_ttl, "2h0m0s");
    assert.deepStrictEqual(await admin.getQuota(owner), quota);
    assert.ok((await admin.listQuotas()).some((q) => q.owner_id === owner));
    assert.equal((await admin.listQuotas({ limit: 1 })).length, 1);
    const usage = await admin.getQuotaUsage(owner);
    assert.equal(usage.quota_configured, true);
    assert.equal(usage.max_sandboxes, 2);
    assert.equal(usage.active_sandboxes, 0);
    const after = await client.quotaSummary();
    assert.equal(after.total, before.total + 1);
    assert.equal(after.with_max_ttl, before.with_max_ttl + 1);
    await rejectsWith(client.putQuota(owner, { max_sandboxes: 5 }), stacyvm.ForbiddenError);
  } finally {
    await admin.deleteQuota(owner);
  }
  await rejectsWith(admin.getQuota(owner), stacyvm.NotFoundError);
});

// --- API keys --------------------------------------------------------------------

test("API keys", async () => {
  const created = await admin.createAPIKey("viewer", { description: "read only", expires_in: "1h" });
  assert.match(created.key, /^svmk_/);
  assert.equal(created.role, "viewer");
  const listed = await admin.listAPIKeys();
  const entry = listed.find((k) => k.id === created.id);
  assert.ok(entry && entry.key === undefined);
  const viewer = new Client({ baseUrl: server.url, apiKey: created.key });
  assert.ok(Array.isArray(await viewer.list()));
  await rejectsWith(viewer.spawn(), stacyvm.ForbiddenError);
  await admin.revokeAPIKey(created.id);
  await rejectsWith(viewer.list(), stacyvm.UnauthorizedError, { statusCode: 401, code: "UNAUTHORIZED" });
});

// --- events ----------------------------------------------------------------------

test("streamEvents replays a sandbox's events", async () => {
  const sb = await client.spawn();
  await sb.destroy();
  const types = [];
  const events = client.streamEvents({ sandbox_id: sb.id, types: "sandbox.*", last_event_id: "0" });
  for await (const event of events) {
    assert.equal(event.sandbox_id, sb.id);
    assert.match(event.id, /^evt-\d+$/);
    types.push(event.type);
    if (event.type === "sandbox.destroyed") break;
  }
  assert.ok(events.lastEventId);
  assert.equal(types[0], "sandbox.created");
  assert.equal(types.at(-1), "sandbox.destroyed");
  // the same with an array of types, closed explicitly
  const again = client.streamEvents({ sandbox_id: sb.id, types: ["sandbox.created"], last_event_id: "0" });
  const first = await again.next();
  assert.equal(first.value.type, "sandbox.created");
  await again.return();
  assert.deepStrictEqual(await again.next(), { done: true, value: undefined });
  await again.close();
});

// --- auth and connection errors ------------------------------------------------------

test("missing or bad key", async () => {
  const anonymous = new Client({ baseUrl: server.url });
  assert.equal((await anonymous.health()).status, "ok"); // public
  await rejectsWith(anonymous.list(), stacyvm.UnauthorizedError);
  const wrong = new Client({ baseUrl: server.url, apiKey: "wrong" });
  await rejectsWith(wrong.spawn(), stacyvm.UnauthorizedError);
});

test("connection errors are wrapped, streams included", async () => {
  const dead = new Client({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeout: 2000 });
  for (const call of [() => dead.health(), () => dead.list(), () => dead.spawn(), () => dead.templates.list(), () => dead.quotaSummary()]) {
    await rejectsWith(call(), stacyvm.ConnectionError);
  }
  const sb = new Sandbox(dead._transport, { id: "sb-0123456789abcdef01234567" });
  await rejectsWith(sb.exec("true"), stacyvm.ConnectionError);
  await rejectsWith(sb.execStream("true").wait(), stacyvm.ConnectionError);
  await rejectsWith(dead.streamEvents().next(), stacyvm.ConnectionError);
  await rejectsWith(new Client("not a url").health(), stacyvm.ConnectionError);
});
