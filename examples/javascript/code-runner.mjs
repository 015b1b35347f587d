#!/usr/bin/env node
// A small code runner on the StacyVM JavaScript SDK: take a program, run it in
// a fresh sandbox, stream its output as it comes, clean up.
//
//   node code-runner.mjs [--lang sh|python|node] [--timeout 30s] [FILE]
//
// FILE defaults to standard input. The server comes from STACYVM_URL (default
// http://127.0.0.1:7423) and the key from STACYVM_API_KEY. Its exit status is
// the program's (124 when the program ran out of time, 2 on a usage error,
// 1 when StacyVM itself failed).

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { Client, StacyVMError } from "stacyvm";

const LANGUAGES = {
  sh: { file: "main.sh", command: "sh" },
  python: { file: "main.py", command: "python3" },
  node: { file: "main.js", command: "node" },
};

function usage(message) {
  process.stderr.write(`code-runner: ${message}\nusage: code-runner.mjs [--lang sh|python|node] [--timeout 30s] [FILE]\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      lang: { type: "string", default: "sh" },
      timeout: { type: "string", default: "30s" },
      image: { type: "string", default: "alpine:latest" },
    },
  });
} catch (err) {
  usage(err.message);
}
const language = LANGUAGES[args.values.lang];
if (!language) usage(`unknown language ${args.values.lang}`);
if (args.positionals.length > 1) usage("give at most one FILE");
const code = readFileSync(args.positionals[0] ?? 0, "utf8");

const client = new Client({
  baseUrl: process.env.STACYVM_URL ?? "http://127.0.0.1:7423",
  apiKey: process.env.STACYVM_API_KEY,
});

try {
  // withSandbox destroys the sandbox afterwards, even when something throws.
  const exit = await client.withSandbox({ image: args.values.image, ttl: "10m" }, async (sandbox) => {
    process.stderr.write(`code-runner: running in ${sandbox.id}\n`);
    await sandbox.writeFile(`/workspace/${language.file}`, code);
    const stream = sandbox.execStream(language.command, {
      args: [language.file],
      mode: "argv",
      workdir: "/workspace",
      timeout: args.values.timeout,
    });
    for await (const chunk of stream) {
      (chunk.stream === "stderr" ? process.stderr : process.stdout).write(chunk.data);
    }
    return stream.exit;
  });
  if (exit.timed_out) {
    process.stderr.write(`code-runner: timed out after ${args.values.timeout}\n`);
    process.exitCode = 124;
  } else if (exit.error) {
    process.stderr.write(`code-runner: ${exit.error.code}: ${exit.error.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`code-runner: exit ${exit.exit_code} after ${exit.duration}\n`);
    process.exitCode = exit.exit_code;
  }
} catch (err) {
  if (!(err instanceof StacyVMError)) throw err;
  process.stderr.write(`code-runner: ${err.name}: ${err.message}\n`);
  process.exitCode = 1;
}
