// A local HTTP server that records every request it receives and answers
// with a canned response: what the parity tests compare against the table.

import http from "node:http";

/** Write a table response spec ({status, json | ndjson | sse | text | body_base64}). */
export function writeSpec(res, spec = {}) {
  const status = spec.status ?? 200;
  let body;
  let type;
  if ("json" in spec) {
    body = JSON.stringify(spec.json);
    type = "application/json";
  } else if ("ndjson" in spec) {
    body = spec.ndjson.map((line) => line + "\n").join("");
    type = "application/x-ndjson";
  } else if ("sse" in spec) {
    body = spec.sse;
    type = "text/event-stream";
  } else if ("text" in spec) {
    body = spec.text;
    type = "text/plain; charset=utf-8";
  } else if ("body_base64" in spec) {
    body = Buffer.from(spec.body_base64, "base64");
    type = "application/octet-stream";
  } else {
    body = "";
    type = "text/plain";
  }
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  res.writeHead(status, { "Content-Type": type, "Content-Length": bytes.length, "X-Request-ID": "rec-1" });
  res.end(bytes);
}

/**
 * Start the recorder on a free loopback port. `respond(recorded, res)` answers
 * each request (default: 200 `{}`); `requests` collects
 * {method, url, headers, body: Buffer}.
 */
export async function startRecorder(respond = (_req, res) => writeSpec(res, { json: {} })) {
  const requests = [];
  const state = { respond };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const recorded = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      state.respond(recorded, res);
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setResponder(fn) {
      state.respond = fn;
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
