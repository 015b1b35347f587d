// operation-map.json matches openapi/openapi.json and the SDK; the live tests call every public method.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { Client, EventStream, ExecStream, LogStream, Sandbox, TemplateManager } from "../dist/index.js";

const TESTS = path.dirname(fileURLToPath(import.meta.url));
const SDK_ROOT = path.dirname(TESTS);
const OPENAPI = JSON.parse(readFileSync(path.join(SDK_ROOT, "../../openapi/openapi.json"), "utf8"));
const MAP = JSON.parse(readFileSync(path.join(SDK_ROOT, "operation-map.json"), "utf8"));

/** Where a mapped name's owner lives. */
const OWNERS = { Client, "Client.templates": TemplateManager, Sandbox };

function operationIds() {
  const ids = [];
  for (const item of Object.values(OPENAPI.paths)) {
    for (const op of Object.values(item)) if (op && typeof op === "object" && op.operationId) ids.push(op.operationId);
  }
  return ids;
}

/** Public methods of a class (own prototype chain below Object; no getters, no `_` names). */
function publicMethods(cls) {
  const names = new Set();
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [name, desc] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (name === "constructor" || name.startsWith("_") || typeof desc.value !== "function") continue;
      names.add(name);
    }
  }
  return [...names].sort();
}

test("the map covers the document exactly", () => {
  const ops = operationIds();
  const mapped = Object.keys(MAP.operations);
  const excluded = Object.keys(MAP.excluded);
  assert.deepStrictEqual([...new Set([...mapped, ...excluded])].sort(), [...ops].sort());
  assert.deepStrictEqual(mapped.filter((op) => excluded.includes(op)), []);
  for (const reason of Object.values(MAP.excluded)) assert.ok(typeof reason === "string" && reason.trim());
});

test("every mapped method exists on its owner", () => {
  for (const [op, name] of Object.entries(MAP.operations)) {
    const dot = name.lastIndexOf(".");
    const owner = OWNERS[name.slice(0, dot)];
    assert.ok(owner, `${op}: unknown owner in ${name}`);
    assert.equal(typeof owner.prototype[name.slice(dot + 1)], "function", `${op}: ${name} is missing`);
  }
});

const LIVE = {
  "live-client.test.mjs": [Client, TemplateManager, EventStream],
  "live-sandbox.test.mjs": [Sandbox, ExecStream, LogStream],
};

for (const [source, classes] of Object.entries(LIVE)) {
  for (const cls of classes) {
    test(`${source} calls every public method of ${cls.name}`, () => {
      const text = readFileSync(path.join(TESTS, source), "utf8");
      const uncalled = publicMethods(cls).filter((m) => !new RegExp(`\\.${m}\\(`).test(text));
      assert.deepStrictEqual(uncalled, [], `${source} never calls ${cls.name}.${uncalled.join(", ")}`);
    });
  }
}
