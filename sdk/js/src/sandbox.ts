/**
 * A sandbox: exec, files, logs and lifecycle calls.
 *
 * @module sandbox
 */

import * as ops from "./operations.js";
import type {
  ExecOptions,
  ExecResult,
  FileInfo,
  SandboxInfo,
  SandboxState,
  SandboxStats,
} from "./models.js";
import { ExecStream, LogStream } from "./streaming.js";
import { decodeText, type Transport } from "./transport.js";

/**
 * A StacyVM sandbox. Obtain one from {@link Client.spawn}, {@link Client.get},
 * {@link Client.withSandbox} or {@link TemplateManager.spawn}.
 *
 * ```ts
 * const sandbox = await client.spawn({ image: "alpine:latest" });
 * try {
 *   console.log((await sandbox.exec("echo hello")).stdout);
 * } finally {
 *   await sandbox.destroy();
 * }
 * ```
 */
export class Sandbox {
  private _info: SandboxInfo;
  private readonly _transport: Transport;
  /** Token for preview access without credentials (sent once, by spawn). */
  readonly previewToken: string | undefined;

  /** @internal Use {@link Client.spawn} or {@link Client.get}. */
  constructor(transport: Transport, info: SandboxInfo | { id: string }) {
    this._transport = transport;
    this._info = { ...(info as SandboxInfo) };
    this.previewToken = typeof this._info.preview_token === "string" ? this._info.preview_token : undefined;
  }

  // --- properties ------------------------------------------------------------

  /** The sandbox ID (`sb-` + 24 hex). */
  get id(): string {
    return this._info.id;
  }

  /** The last known state (see {@link refresh}). */
  get state(): SandboxState {
    return this._info.state;
  }

  get image(): string {
    return this._info.image;
  }

  get provider(): string {
    return this._info.provider;
  }

  get memoryMb(): number {
    return this._info.memory_mb;
  }

  get vcpus(): number {
    return this._info.vcpus;
  }

  get expiresAt(): string {
    return this._info.expires_at;
  }

  /** `local` for the control plane's embedded worker. */
  get workerId(): string | undefined {
    return this._info.worker_id;
  }

  get previewDomain(): string {
    return this._info.preview_domain || "localhost";
  }

  /** A copy of the last known description of the sandbox. */
  get info(): SandboxInfo {
    return { ...this._info };
  }

  /** The preview URL of `port`: `http://{port}-{id}.{preview_domain}` (no I/O). */
  getPreviewUrl(port: number): string {
    return `http://${Math.trunc(port)}-${this.id}.${this.previewDomain}`;
  }

  // --- exec ------------------------------------------------------------------

  /**
   * Run a command and wait for it. A non-zero exit is a normal result; passing
   * the server-side `timeout` throws {@link ExecTimeoutError}.
   */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    return this._transport.send(ops.execCommand(this.id, command, opts));
  }

  /**
   * Run a command and stream its output: iterate the result with `for await`
   * for {@link StreamChunk}s; then `stream.exit` holds the exit frame. The
   * request is sent when iteration starts. A server-side `timeout` ends the
   * stream with `exit.timed_out` (not an error); the client's `timeout` is an
   * idle timeout here.
   */
  execStream(command: string, opts?: ExecOptions): ExecStream {
    const call = ops.execCommand(this.id, command, opts, true);
    return new ExecStream(() => this._transport.lines(call));
  }

  // --- files -----------------------------------------------------------------

  /** Write a file: text as UTF-8; bytes are sent base64-encoded. `mode`: e.g. `"755"`. */
  async writeFile(path: string, content: string | Uint8Array | ArrayBuffer, mode?: string): Promise<void> {
    await this._transport.send(ops.writeFile(this.id, path, content, mode));
  }

  /** Upload raw bytes (`PUT`, binary-safe); resolves to the size written. */
  writeBytes(path: string, data: Uint8Array | ArrayBuffer | ArrayBufferView, mode?: string): Promise<number> {
    return this._transport.send(ops.uploadFile(this.id, path, ops.toBytes(data), mode));
  }

  /** Read a file as text (UTF-8; invalid bytes become U+FFFD). */
  async readFile(path: string): Promise<string> {
    return decodeText(await this.readBytes(path));
  }

  /** Read a file's raw bytes. */
  readBytes(path: string): Promise<Uint8Array> {
    return this._transport.send(ops.readFile(this.id, path));
  }

  /** List a directory (default `/`), sorted by name. */
  listFiles(path: string = "/"): Promise<FileInfo[]> {
    return this._transport.send(ops.listFiles(this.id, path));
  }

  /** Delete a file, or a directory (non-empty ones need `recursive`). */
  async deleteFile(path: string, recursive?: boolean): Promise<void> {
    await this._transport.send(ops.deleteFile(this.id, path, recursive === true));
  }

  /** Move or rename a file. */
  async moveFile(oldPath: string, newPath: string): Promise<void> {
    await this._transport.send(ops.moveFile(this.id, oldPath, newPath));
  }

  /** Change a file's permissions (octal string, e.g. `"755"`). */
  async chmodFile(path: string, mode: string): Promise<void> {
    await this._transport.send(ops.chmodFile(this.id, path, mode));
  }

  /** Describe one file. */
  statFile(path: string): Promise<FileInfo> {
    return this._transport.send(ops.statFile(this.id, path));
  }

  /** Paths matching a glob pattern (`**` recurses). */
  globFiles(pattern: string): Promise<string[]> {
    return this._transport.send(ops.globFiles(this.id, pattern));
  }

  // --- logs and stats --------------------------------------------------------

  /** The last `lines` console lines (server default 100), oldest first. */
  logs(lines?: number): Promise<string[]> {
    return this._transport.send(ops.getSandboxLogs(this.id, lines));
  }

  /**
   * Follow the console: the last `lines` lines, then new ones until the
   * sandbox is destroyed (then `exit` is set). Iterate with `for await`.
   */
  streamLogs(lines?: number): LogStream {
    const call = ops.getSandboxLogs(this.id, lines, true);
    return new LogStream(() => this._transport.lines(call));
  }

  /** CPU and memory usage, when the provider supports it. */
  stats(): Promise<SandboxStats> {
    return this._transport.send(ops.getSandboxStats(this.id));
  }

  // --- lifecycle -------------------------------------------------------------

  /**
   * Set the expiry to now + `ttl` (default `"30m"`), or with `mode: "add"`
   * extend the current expiry by `ttl`. Resolves to the updated description.
   */
  async extendTtl(ttl: string = "30m", mode?: "set" | "add"): Promise<SandboxInfo> {
    this._info = await this._transport.send(ops.extendSandbox(this.id, ttl, mode));
    return this.info;
  }

  /** Alias of {@link extendTtl}. */
  extend(ttl: string = "30m", mode?: "set" | "add"): Promise<SandboxInfo> {
    return this.extendTtl(ttl, mode);
  }

  /** Destroy the sandbox (idempotent while the server remembers it). */
  async destroy(): Promise<void> {
    await this._transport.send(ops.destroySandbox(this.id));
    this._info = { ...this._info, state: "destroyed" };
  }

  /** Re-read the sandbox from the server; resolves to this sandbox (for chaining). */
  async refresh(): Promise<this> {
    this._info = await this._transport.send(ops.getSandbox(this.id));
    return this;
  }

  /** `Sandbox(id="…", state="…")`. */
  toString(): string {
    return `Sandbox(id="${this.id}", state="${this.state}")`;
  }

  /** `JSON.stringify(sandbox)` gives its description. */
  toJSON(): SandboxInfo {
    return this.info;
  }
}
