// examples/javascript/code-runner.mjs, run as a user would (the SDK installed
// as node_modules/stacyvm), against a live server: it cannot rot.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import { freePort, REPO_ROOT, startServer } from "./helpers/server.mjs";

let server;
let dir;

before(async () => {
  server = await startServer();
  // What `npm install ./sdk/js` produces: node_modules/stacyvm -> the SDK.
  dir = mkdtempSync(path.join(os.tmpdir(), "stacyvm-example-"));
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(path.join(REPO_ROOT, "sdk/js"), path.join(dir, "node_modules/stacyvm"), "dir");
  copyFileSync(path.join(REPO_ROOT, "examples/javascript/code-runner.mjs"), path.join(dir, "code-runner.mjs"));
});
after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run the example; resolves to {code, stdout, stderr}. */
function run(args, { input = "", env = {} } = {}) {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [path.join(dir, "code-runner.mjs"), ...args],
      { cwd: dir, env: { ...process.env, STACYVM_URL: server.url, STACYVM_API_KEY: server.apiKey, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
    child.stdin.end(input);
  });
}

test("runs a program in a fresh sandbox, streams its output and cleans up", async () => {
  const result = await run([], { input: "echo hello\necho oops >&2\nls\nexit 3\n" });
  assert.equal(result.stdout, "hello\nmain.sh\n", result.stderr);
  assert.match(result.stderr, /running in sb-[0-9a-f]{24}/);
  assert.match(result.stderr, /oops/);
  assert.match(result.stderr, /exit 3 after /);
  assert.equal(result.code, 3);
  assert.deepStrictEqual(await server.client().list(), [], "the sandbox was destroyed");
});

test("a program file, and a program that runs out of time", async () => {
  const file = path.join(dir, "prog.sh");
  writeFileSync(file, "echo from-file\n");
  const ok = await run([file]);
  assert.equal(ok.stdout, "from-file\n");
  assert.equal(ok.code, 0);
  const slow = await run(["--timeout", "300ms"], { input: "echo start\nsleep 5\n" });
  assert.equal(slow.stdout, "start\n");
  assert.match(slow.stderr, /timed out after 300ms/);
  assert.equal(slow.code, 124);
  assert.deepStrictEqual(await server.client().list(), []);
});

test("usage and connection errors", async () => {
  const usage = await run(["--lang", "cobol"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown language cobol/);
  const dead = await run([], { input: "true\n", env: { STACYVM_URL: `http://127.0.0.1:${await freePort()}` } });
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /ConnectionError: Cannot connect/);
  const unauthorized = await run([], { input: "true\n", env: { STACYVM_API_KEY: "wrong" } });
  assert.equal(unauthorized.code, 1);
  assert.match(unauthorized.stderr, /UnauthorizedError/);
});
