/**
 * One builder per operation of `openapi/openapi.json` (no I/O). Each returns
 * a {@link Call} describing the request and how to read its response; the
 * client, sandbox and template objects send them.
 *
 * @module operations
 */

import type {
  APIKey,
  CreateAPIKeyOptions,
  ExecOptions,
  ExecResult,
  FileInfo,
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
  SandboxStats,
  SpawnAdmissionDecision,
  SpawnOptions,
  StreamEventsOptions,
  Template,
  TemplateConfig,
  TemplateSpawnOverrides,
  VMPoolStatus,
} from "./models.js";
import { decodeText, type Call, type RawResponse } from "./transport.js";

export const API = "/api/v1";
export const DEFAULT_IMAGE = "alpine:latest";

/** Percent-encode one path segment (the server decodes it). */
function seg(value: string): string {
  return encodeURIComponent(String(value));
}

function sandboxPath(id: string, suffix = ""): string {
  return `${API}/sandboxes/${seg(id)}${suffix}`;
}

function json<T>(response: RawResponse): T {
  return JSON.parse(decodeText(response.body)) as T;
}

function object<T>(response: RawResponse): T {
  const data = json<unknown>(response);
  if (data === null || typeof data !== "object" || Array.isArray(data)) throw new Error("expected a JSON object");
  return data as T;
}

function array<T>(response: RawResponse): T[] {
  const data = json<unknown>(response);
  if (!Array.isArray(data)) throw new Error("expected a JSON array");
  return data as T[];
}

function none(): void {
  return undefined;
}

function text(response: RawResponse): string {
  return decodeText(response.body);
}

function bytes(response: RawResponse): Uint8Array {
  return response.body;
}

/** A plain array, or a `{"items","next_cursor"}` page, as a {@link Page}. */
function page<T>(response: RawResponse): Page<T> {
  const data = json<unknown>(response);
  let items: T[];
  let next: string | null = null;
  if (Array.isArray(data)) {
    items = data as T[];
  } else if (data !== null && typeof data === "object" && Array.isArray((data as { items?: unknown }).items)) {
    const wrapped = data as { items: T[]; next_cursor?: unknown };
    items = wrapped.items;
    next = typeof wrapped.next_cursor === "string" ? wrapped.next_cursor : null;
  } else {
    throw new Error("expected a JSON array or a page");
  }
  // Not enumerable: the array still compares, prints and serialises as the plain array 0.1.x returned.
  return Object.defineProperty(items, "nextCursor", { value: next, enumerable: false, writable: true }) as Page<T>;
}

/** Query parameters without `undefined`s; booleans as `true`/`false`. */
function query(values: Record<string, string | number | boolean | undefined | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null) continue;
    out[key] = String(value);
  }
  return out;
}

/** A JSON body without `undefined`s. */
function compact(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

/** `s` when it is a non-empty string, else `undefined` (empty means "server default"). */
function nonEmpty(s: string | undefined): string | undefined {
  return s ? s : undefined;
}

function idempotency(key: string | undefined): Record<string, string> {
  return key ? { "Idempotency-Key": key } : {};
}

/** Base64 of bytes (no Node `Buffer` needed). */
export function toBase64(data: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < data.length; i += 0x8000) {
    binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Bytes of a `Uint8Array`, `ArrayBuffer` or other typed-array view. */
export function toBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// --- system --------------------------------------------------------------------

export function getHealth(): Call<HealthInfo> {
  return { method: "GET", path: `${API}/health`, parse: object };
}

export function getLive(): Call<Live> {
  return { method: "GET", path: `${API}/live`, parse: object };
}

export function getReady(): Call<Readiness> {
  return { method: "GET", path: `${API}/ready`, parse: object, accept: [503] };
}

export function getMetrics(): Call<Record<string, unknown>> {
  return { method: "GET", path: `${API}/metrics`, parse: object };
}

export function getPrometheusMetrics(): Call<string> {
  return { method: "GET", path: `${API}/metrics/prometheus`, parse: text };
}

export function getPoolStatus(): Call<VMPoolStatus> {
  return { method: "GET", path: `${API}/pool/status`, parse: object };
}

export function getOpenAPIDocument(): Call<Record<string, unknown>> {
  return { method: "GET", path: `${API}/openapi.json`, parse: object };
}

export function getSwaggerDocument(): Call<Record<string, unknown>> {
  return { method: "GET", path: "/swagger/doc.json", parse: object };
}

export function streamEvents(opts: StreamEventsOptions = {}): Call<void> {
  const types = Array.isArray(opts.types) ? opts.types.join(",") : opts.types;
  return {
    method: "GET",
    path: `${API}/events`,
    parse: none,
    query: query({
      sandbox_id: opts.sandbox_id,
      types,
      named: opts.named,
      last_event_id: opts.last_event_id,
    }),
    headers: { Accept: "text/event-stream" },
  };
}

// --- providers -----------------------------------------------------------------

export function listProviders(): Call<ProviderInfo[]> {
  return { method: "GET", path: `${API}/providers`, parse: array };
}

export function testProviders(): Call<Record<string, boolean>> {
  return { method: "POST", path: `${API}/providers/test`, parse: object };
}

export function getProvider(name: string): Call<ProviderDetail> {
  return { method: "GET", path: `${API}/providers/${seg(name)}`, parse: object };
}

// --- sandboxes -----------------------------------------------------------------

/** The `SpawnRequest` body (in the 0.1.x SDK's key order); empty values are left out. */
export function spawnBody(opts: SpawnOptions, defaultImage: boolean): Record<string, unknown> {
  const image = nonEmpty(opts.image) ?? (defaultImage && !opts.template ? DEFAULT_IMAGE : undefined);
  return compact({
    image,
    provider: nonEmpty(opts.provider),
    memory_mb: opts.memory_mb,
    vcpus: opts.vcpus,
    ttl: nonEmpty(opts.ttl),
    owner_id: nonEmpty(opts.owner_id),
    template: nonEmpty(opts.template),
    metadata: opts.metadata,
    tenant_id: opts.tenant_id,
    network: nonEmpty(opts.network),
  });
}

export function listSandboxes(opts: ListSandboxesOptions = {}): Call<Page<SandboxInfo>> {
  return {
    method: "GET",
    path: `${API}/sandboxes`,
    parse: page,
    query: query({
      state: opts.state,
      provider: opts.provider,
      worker_id: opts.worker_id,
      template: opts.template,
      owner_id: opts.owner_id,
      include_destroyed: opts.include_destroyed,
      limit: opts.limit,
      cursor: opts.cursor,
    }),
  };
}

export function createSandbox(opts: SpawnOptions = {}): Call<SandboxInfo> {
  return {
    method: "POST",
    path: `${API}/sandboxes`,
    parse: object,
    json: spawnBody(opts, true),
    headers: idempotency(opts.idempotency_key),
  };
}

export function checkAdmission(opts: SpawnOptions = {}): Call<SpawnAdmissionDecision> {
  return { method: "POST", path: `${API}/sandboxes/admission`, parse: object, json: spawnBody(opts, false) };
}

export function pruneSandboxes(): Call<number> {
  return {
    method: "DELETE",
    path: `${API}/sandboxes`,
    parse: (r) => {
      const pruned = object<{ pruned?: unknown }>(r).pruned;
      if (typeof pruned !== "number") throw new Error("no 'pruned' count");
      return pruned;
    },
  };
}

export function getSandbox(id: string): Call<SandboxInfo> {
  return { method: "GET", path: sandboxPath(id), parse: object, sandboxId: id };
}

export function destroySandbox(id: string): Call<void> {
  return { method: "DELETE", path: sandboxPath(id), parse: none, sandboxId: id };
}

export function extendSandbox(id: string, ttl: string, mode?: "set" | "add"): Call<SandboxInfo> {
  return {
    method: "POST",
    path: sandboxPath(id, "/extend"),
    parse: object,
    json: compact({ ttl, mode: nonEmpty(mode) }),
    sandboxId: id,
  };
}

export function getSandboxStats(id: string): Call<SandboxStats> {
  return { method: "GET", path: sandboxPath(id, "/stats"), parse: object, sandboxId: id };
}

export function getSandboxLogs(id: string, lines?: number, follow?: boolean): Call<string[]> {
  return {
    method: "GET",
    path: sandboxPath(id, "/logs"),
    parse: array,
    query: query({ lines, follow }),
    sandboxId: id,
  };
}

// --- exec ----------------------------------------------------------------------

function execResult(response: RawResponse): ExecResult {
  const result = object<ExecResult>(response);
  if (typeof result.exit_code !== "number") throw new Error("no 'exit_code'");
  if (response.headers.get("X-Stacyvm-Stdout-Truncated") === "true") result.stdout_truncated = true;
  if (response.headers.get("X-Stacyvm-Stderr-Truncated") === "true") result.stderr_truncated = true;
  return result;
}

/** `POST /exec`; with `stream` the caller reads NDJSON frames instead of the result. */
export function execCommand(id: string, command: string, opts: ExecOptions = {}, stream = false): Call<ExecResult> {
  const body: Record<string, unknown> = { command };
  if (stream) body["stream"] = true;
  Object.assign(
    body,
    compact({
      args: opts.args && opts.args.length > 0 ? opts.args : undefined,
      mode: nonEmpty(opts.mode),
      env: opts.env && Object.keys(opts.env).length > 0 ? opts.env : undefined,
      workdir: nonEmpty(opts.workdir),
      timeout: nonEmpty(opts.timeout),
      stdin: opts.stdin,
      output_encoding: opts.output_encoding,
    }),
  );
  return { method: "POST", path: sandboxPath(id, "/exec"), parse: execResult, json: body, sandboxId: id };
}

// --- files ---------------------------------------------------------------------

export function readFile(id: string, path: string): Call<Uint8Array> {
  return { method: "GET", path: sandboxPath(id, "/files"), parse: bytes, query: { path }, sandboxId: id };
}

/** JSON write: text as UTF-8, bytes as base64. */
export function writeFile(
  id: string,
  path: string,
  content: string | Uint8Array | ArrayBuffer,
  mode?: string,
): Call<void> {
  const body: Record<string, unknown> = { path };
  if (typeof content === "string") {
    body["content"] = content;
  } else {
    body["content"] = toBase64(toBytes(content));
    body["encoding"] = "base64";
  }
  if (mode) body["mode"] = mode;
  return { method: "POST", path: sandboxPath(id, "/files"), parse: none, json: body, sandboxId: id };
}

/** Raw `PUT` upload (binary-safe, streamed by the server). */
export function uploadFile(id: string, path: string, data: Uint8Array, mode?: string): Call<number> {
  return {
    method: "PUT",
    path: sandboxPath(id, "/files"),
    parse: (r) => {
      const size = object<{ size?: unknown }>(r).size;
      return typeof size === "number" ? size : data.length;
    },
    query: query({ path, mode: nonEmpty(mode) }),
    content: data,
    sandboxId: id,
  };
}

export function deleteFile(id: string, path: string, recursive = false): Call<void> {
  const q: Record<string, string> = { path };
  if (recursive) q["recursive"] = "true";
  return { method: "DELETE", path: sandboxPath(id, "/files"), parse: none, query: q, sandboxId: id };
}

export function listFiles(id: string, path = "/"): Call<FileInfo[]> {
  return { method: "GET", path: sandboxPath(id, "/files/list"), parse: array, query: { path }, sandboxId: id };
}

export function statFile(id: string, path: string): Call<FileInfo> {
  return { method: "GET", path: sandboxPath(id, "/files/stat"), parse: object, query: { path }, sandboxId: id };
}

export function globFiles(id: string, pattern: string): Call<string[]> {
  return { method: "GET", path: sandboxPath(id, "/files/glob"), parse: array, query: { pattern }, sandboxId: id };
}

export function moveFile(id: string, oldPath: string, newPath: string): Call<void> {
  return {
    method: "POST",
    path: sandboxPath(id, "/files/move"),
    parse: none,
    json: { old_path: oldPath, new_path: newPath },
    sandboxId: id,
  };
}

export function chmodFile(id: string, path: string, mode: string): Call<void> {
  return { method: "POST", path: sandboxPath(id, "/files/chmod"), parse: none, json: { path, mode }, sandboxId: id };
}

// --- templates -----------------------------------------------------------------

/** The `TemplateRequest` body: `name` and `image`, plus the fields that are set. */
export function templateBody(config: TemplateConfig): Record<string, unknown> {
  return compact({
    name: config.name,
    image: config.image,
    memory_mb: config.memory_mb,
    vcpus: config.vcpus,
    ttl: config.ttl,
    provider: config.provider,
    metadata: config.metadata,
    description: config.description,
    env: config.env,
    setup: config.setup,
    on_drain: config.on_drain,
    tenant_id: config.tenant_id,
  });
}

export function listTemplates(opts: PageOptions = {}): Call<Page<Template>> {
  return { method: "GET", path: `${API}/templates`, parse: page, query: query({ limit: opts.limit, cursor: opts.cursor }) };
}

export function createTemplate(config: TemplateConfig): Call<Template> {
  return { method: "POST", path: `${API}/templates`, parse: object, json: templateBody(config) };
}

export function getTemplate(name: string): Call<Template> {
  return { method: "GET", path: `${API}/templates/${seg(name)}`, parse: object };
}

export function replaceTemplate(config: TemplateConfig): Call<Template> {
  return { method: "PUT", path: `${API}/templates/${seg(config.name)}`, parse: object, json: templateBody(config) };
}

export function deleteTemplate(name: string): Call<void> {
  return { method: "DELETE", path: `${API}/templates/${seg(name)}`, parse: none };
}

/** `POST /templates/{name}/spawn`; without overrides no body is sent (the server reads none as `{}`). */
export function spawnFromTemplate(name: string, overrides: TemplateSpawnOverrides = {}): Call<SandboxInfo> {
  const body = compact({
    provider: nonEmpty(overrides.provider),
    ttl: nonEmpty(overrides.ttl),
    metadata: overrides.metadata && Object.keys(overrides.metadata).length > 0 ? overrides.metadata : undefined,
    owner_id: nonEmpty(overrides.owner_id),
  });
  const call: Call<SandboxInfo> = {
    method: "POST",
    path: `${API}/templates/${seg(name)}/spawn`,
    parse: object,
    headers: idempotency(overrides.idempotency_key),
  };
  if (Object.keys(body).length > 0) call.json = body;
  return call;
}

// --- quotas --------------------------------------------------------------------

export function listQuotas(opts: PageOptions = {}): Call<Page<OwnerQuota>> {
  return { method: "GET", path: `${API}/quotas`, parse: page, query: query({ limit: opts.limit, cursor: opts.cursor }) };
}

export function getQuotaSummary(): Call<QuotaSummary> {
  return { method: "GET", path: `${API}/quotas/summary`, parse: object };
}

export function getQuota(ownerId: string): Call<OwnerQuota> {
  return { method: "GET", path: `${API}/quotas/${seg(ownerId)}`, parse: object };
}

export function putQuota(ownerId: string, opts: PutQuotaOptions = {}): Call<OwnerQuota> {
  return {
    method: "PUT",
    path: `${API}/quotas/${seg(ownerId)}`,
    parse: object,
    json: compact({
      max_sandboxes: opts.max_sandboxes,
      max_ttl: opts.max_ttl,
      max_exec_timeout: opts.max_exec_timeout,
    }),
  };
}

export function deleteQuota(ownerId: string): Call<void> {
  return { method: "DELETE", path: `${API}/quotas/${seg(ownerId)}`, parse: none };
}

export function getQuotaUsage(ownerId: string): Call<QuotaUsage> {
  return { method: "GET", path: `${API}/quotas/${seg(ownerId)}/usage`, parse: object };
}

// --- API keys ------------------------------------------------------------------

export function listAPIKeys(): Call<APIKey[]> {
  return { method: "GET", path: `${API}/admin/api-keys`, parse: array };
}

export function createAPIKey(role: string, opts: CreateAPIKeyOptions = {}): Call<APIKey> {
  return {
    method: "POST",
    path: `${API}/admin/api-keys`,
    parse: object,
    json: compact({
      role,
      tenant_id: opts.tenant_id,
      owner_id: opts.owner_id,
      description: opts.description,
      expires_in: opts.expires_in,
    }),
  };
}

export function revokeAPIKey(keyId: string): Call<void> {
  return { method: "DELETE", path: `${API}/admin/api-keys/${seg(keyId)}`, parse: none };
}
