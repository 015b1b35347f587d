// A real `stacyvm serve` for the live tests: mock provider, loopback, a free
// port, a temporary data directory and an admin key (so anonymous mode is off
// and every client sends a key). The binary comes from STACYVM_BIN (default
// <repo>/.build/debug/stacyvm). Mirrors sdk/python/tests/conftest.py.

import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Client } from "../../dist/index.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A name no other test uses. */
export function unique(prefix) {
  return `${prefix}-${randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file) {
  try {
    return readFileSync(file, "utf8").slice(-4000);
  } catch {
    return "(no log)";
  }
}

/**
 * Start the server. Resolves to {url, port, adminKey, apiKey, client(opts), admin(opts), stop()}.
 * `apiKey` has role `api` (what an SDK user normally holds), created through the SDK.
 */
export async function startServer() {
  const binary = path.resolve(process.env.STACYVM_BIN || path.join(REPO_ROOT, ".build/debug/stacyvm"));
  if (!existsSync(binary)) throw new Error(`stacyvm binary not found: ${binary} (set STACYVM_BIN)`);
  const root = await mkdtemp(path.join(os.tmpdir(), "stacyvm-js-"));
  await mkdir(path.join(root, "mock"));
  await mkdir(path.join(root, "data"));
  const port = await freePort();
  const adminKey = "test-admin-" + randomBytes(16).toString("hex");
  const env = {
    ...process.env,
    STACYVM_SERVER_HOST: "127.0.0.1",
    STACYVM_SERVER_PORT: String(port),
    STACYVM_SERVER_DATA_DIR: path.join(root, "data"),
    STACYVM_DATABASE_PATH: path.join(root, "data", "stacyvm.db"),
    STACYVM_PROVIDERS_DEFAULT: "mock",
    STACYVM_PROVIDERS_MOCK_ROOT_DIR: path.join(root, "mock"),
    STACYVM_TESTING: "1",
    STACYVM_AUTH_ADMIN_API_KEY: adminKey,
    STACYVM_LOGGING_LEVEL: "warn",
  };
  delete env.STACYVM_CONFIG;
  const log = path.join(root, "server.log");
  const fd = openSync(log, "w");
  const proc = spawn(binary, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: root,
    env,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  let exited = null;
  const exitPromise = new Promise((resolve) => proc.on("exit", (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const url = `http://127.0.0.1:${port}`;
  // Never leave a server behind, even when the test process ends abruptly.
  const killOnExit = () => {
    if (exited === null) proc.kill("SIGKILL");
  };
  process.on("exit", killOnExit);

  const stop = async () => {
    process.off("exit", killOnExit);
    if (exited === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exitPromise;
      clearTimeout(timer);
    }
    await rm(root, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited !== null) throw new Error(`stacyvm serve exited (${JSON.stringify(exited)}):\n${tail(log)}`);
      try {
        const res = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`stacyvm serve did not become healthy:\n${tail(log)}`);
      await sleep(100);
    }
    const created = await new Client({ baseUrl: url, apiKey: adminKey }).createAPIKey("api", { description: "js sdk tests" });
    if (!created.key) throw new Error("createAPIKey returned no key");
    const apiKey = created.key;
    return {
      url,
      port,
      adminKey,
      apiKey,
      log,
      /** A client holding the `api`-role key. */
      client: (opts = {}) => new Client({ baseUrl: url, apiKey, timeout: 20_000, ...opts }),
      /** A client holding the admin key. */
      admin: (opts = {}) => new Client({ baseUrl: url, apiKey: adminKey, timeout: 20_000, ...opts }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
