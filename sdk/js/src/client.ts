/**
 * The StacyVM client: the entry point of the SDK.
 *
 * @module client
 */

import * as ops from "./operations.js";
import type {
  APIKey,
  ClientConfig,
  ClientOptions,
  CreateAPIKeyOptions,
  HealthInfo,
  ListSandboxesOptions,
  Live,
  OwnerQuota,
  Page,
  PageOptions,
  ProviderDetail,
  ProviderInfo,
  PutQuotaOptions,
  QuotaSummary,
  QuotaUsage,
  Readiness,
  SandboxInfo,
  SpawnAdmissionDecision,
  SpawnOptions,
  StreamEventsOptions,
  VMPoolStatus,
} from "./models.js";
import { Sandbox } from "./sandbox.js";
import { EventStream } from "./streaming.js";
import { TemplateManager } from "./templates.js";
import { Transport, USER_AGENT } from "./transport.js";

/** Default port of the StacyVM server. */
export const DEFAULT_PORT = 7423;
/** Default timeout in milliseconds. */
export const DEFAULT_TIMEOUT = 30_000;

/**
 * Client for the StacyVM API.
 *
 * ```ts
 * import { Client } from "stacyvm";
 *
 * const client = new Client({ baseUrl: "http://127.0.0.1:7423", apiKey: "…" });
 * const out = await client.withSandbox({ image: "alpine:latest" }, async (sb) => {
 *   return (await sb.exec("echo hello")).stdout;
 * });
 * ```
 */
export class Client {
  /** Template management. */
  readonly templates: TemplateManager;
  private readonly _transport: Transport;

  /**
   * @param options - a base URL, or options (all optional): `baseUrl` (or
   *   `host` and `port`), `apiKey`, `userId`, `tenantId`, `adminApiKey`,
   *   `timeout` (ms), `headers`, `fetch`.
   */
  constructor(options?: ClientConfig) {
    const opts: ClientOptions = typeof options === "string" ? { baseUrl: options } : options ?? {};
    const baseUrl = opts.baseUrl ? opts.baseUrl : `http://${opts.host ?? "localhost"}:${opts.port ?? DEFAULT_PORT}`;
    const headers: Record<string, string> = { "User-Agent": USER_AGENT };
    if (opts.apiKey) headers["X-API-Key"] = opts.apiKey;
    if (opts.adminApiKey) headers["X-Admin-API-Key"] = opts.adminApiKey;
    if (opts.userId) headers["X-User-ID"] = opts.userId;
    if (opts.tenantId) headers["X-Tenant-ID"] = opts.tenantId;
    Object.assign(headers, opts.headers);
    const transportOptions: ConstructorParameters<typeof Transport>[0] = {
      baseUrl,
      headers,
      timeout: opts.timeout ?? DEFAULT_TIMEOUT,
    };
    if (opts.fetch) transportOptions.fetch = opts.fetch;
    this._transport = new Transport(transportOptions);
    this.templates = new TemplateManager(this._transport);
  }

  /** The server's base URL (no trailing slash). */
  get baseUrl(): string {
    return this._transport.baseUrl;
  }

  // --- sandboxes -------------------------------------------------------------

  /**
   * Spawn a sandbox and wait until it runs. `image` defaults to
   * `"alpine:latest"`, or to the template's image when `template` is given.
   */
  async spawn(opts?: SpawnOptions): Promise<Sandbox> {
    const info = await this._transport.send(ops.createSandbox(opts));
    return new Sandbox(this._transport, info);
  }

  /** Dry-run a spawn: would it be admitted now, and if not, why? */
  admission(opts?: SpawnOptions): Promise<SpawnAdmissionDecision> {
    return this._transport.send(ops.checkAdmission(opts));
  }

  /** Attach to an existing sandbox (throws {@link SandboxNotFoundError}). */
  async get(sandboxId: string): Promise<Sandbox> {
    const info = await this._transport.send(ops.getSandbox(sandboxId));
    return new Sandbox(this._transport, info);
  }

  /** List visible sandboxes (a page with `nextCursor` when `limit`/`cursor` is given). */
  list(opts?: ListSandboxesOptions): Promise<Page<SandboxInfo>> {
    return this._transport.send(ops.listSandboxes(opts));
  }

  /** Destroy every expired sandbox; resolves to how many. */
  prune(): Promise<number> {
    return this._transport.send(ops.pruneSandboxes());
  }

  /**
   * Spawn a sandbox, run `callback` with it and destroy it afterwards, even
   * when the callback throws (a failing destroy is ignored).
   */
  async withSandbox<T>(opts: SpawnOptions, callback: (sandbox: Sandbox) => Promise<T>): Promise<T> {
    const sandbox = await this.spawn(opts);
    try {
      return await callback(sandbox);
    } finally {
      try {
        await sandbox.destroy();
      } catch {
        // best effort, as in 0.1.x
      }
    }
  }

  // --- system ----------------------------------------------------------------

  /** Server health: `{status: "ok", version, uptime}`. */
  health(): Promise<HealthInfo> {
    return this._transport.send(ops.getHealth());
  }

  /** Liveness probe. */
  getLive(): Promise<Live> {
    return this._transport.send(ops.getLive());
  }

  /** Readiness probe; resolves (does not throw) when the server answers 503 not ready. */
  getReady(): Promise<Readiness> {
    return this._transport.send(ops.getReady());
  }

  /** Metrics as JSON. */
  getMetrics(): Promise<Record<string, unknown>> {
    return this._transport.send(ops.getMetrics());
  }

  /** Metrics in the Prometheus text format. */
  getPrometheusMetrics(): Promise<string> {
    return this._transport.send(ops.getPrometheusMetrics());
  }

  /** VM pool status (pool mode is not built: `{enabled: false}`). */
  poolStatus(): Promise<VMPoolStatus> {
    return this._transport.send(ops.getPoolStatus());
  }

  /** The server's OpenAPI document. */
  getOpenAPIDocument(): Promise<Record<string, unknown>> {
    return this._transport.send(ops.getOpenAPIDocument());
  }

  /** The same document at the original's `/swagger/doc.json`. */
  getSwaggerDocument(): Promise<Record<string, unknown>> {
    return this._transport.send(ops.getSwaggerDocument());
  }

  /**
   * Subscribe to server-sent events; iterate with `for await` and `break` (or
   * `close()`) when done: the stream is endless. The request is sent when
   * iteration starts.
   */
  streamEvents(opts?: StreamEventsOptions): EventStream {
    const call = ops.streamEvents(opts);
    return new EventStream(() => this._transport.lines(call));
  }

  // --- providers -------------------------------------------------------------

  /** Registered providers and their health. */
  providers(): Promise<ProviderInfo[]> {
    return this._transport.send(ops.listProviders());
  }

  /** One provider's health and (redacted) configuration. */
  getProvider(name: string): Promise<ProviderDetail> {
    return this._transport.send(ops.getProvider(name));
  }

  /** Re-check every provider now (operator): `{name: healthy}`. */
  testProviders(): Promise<Record<string, boolean>> {
    return this._transport.send(ops.testProviders());
  }

  // --- quotas ----------------------------------------------------------------

  /** Redacted quota coverage counts. */
  quotaSummary(): Promise<QuotaSummary> {
    return this._transport.send(ops.getQuotaSummary());
  }

  /** All owner quotas (operator). */
  listQuotas(opts?: PageOptions): Promise<Page<OwnerQuota>> {
    return this._transport.send(ops.listQuotas(opts));
  }

  /** One owner's quota (throws {@link NotFoundError} when none is set). */
  getQuota(ownerId: string): Promise<OwnerQuota> {
    return this._transport.send(ops.getQuota(ownerId));
  }

  /** Create or replace an owner's quota (admin). `0` / `""` inherit the global value. */
  putQuota(ownerId: string, opts?: PutQuotaOptions): Promise<OwnerQuota> {
    return this._transport.send(ops.putQuota(ownerId, opts));
  }

  /** Remove an owner's quota (admin). */
  async deleteQuota(ownerId: string): Promise<void> {
    await this._transport.send(ops.deleteQuota(ownerId));
  }

  /** An owner's effective limits and active sandboxes. */
  getQuotaUsage(ownerId: string): Promise<QuotaUsage> {
    return this._transport.send(ops.getQuotaUsage(ownerId));
  }

  // --- API keys (admin) ------------------------------------------------------

  /** API keys, without their secrets. */
  listAPIKeys(): Promise<APIKey[]> {
    return this._transport.send(ops.listAPIKeys());
  }

  /** Create an API key; its secret is in `key`, shown only this once. */
  createAPIKey(role: string, opts?: CreateAPIKeyOptions): Promise<APIKey> {
    return this._transport.send(ops.createAPIKey(role, opts));
  }

  /** Revoke an API key. */
  async revokeAPIKey(keyId: string): Promise<void> {
    await this._transport.send(ops.revokeAPIKey(keyId));
  }
}
