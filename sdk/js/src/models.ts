/**
 * Types of the StacyVM SDK: the schemas of `openapi/openapi.json` and the
 * options of the SDK's methods. Responses are plain JSON objects; the server
 * may add fields, so unknown keys are kept as they come.
 *
 * Option objects use the wire names (`memory_mb`, `owner_id`), as 0.1.x did.
 *
 * @module models
 */

// --- sandboxes ---------------------------------------------------------------

/** Lifecycle state of a sandbox (`stopped` is kept from 0.1.x; the server no longer uses it). */
export type SandboxState =
  | "creating"
  | "running"
  | "unhealthy"
  | "expired"
  | "stopped"
  | "destroyed"
  | "error";

/** A sandbox as the server describes it (schema `Sandbox`). */
export interface SandboxInfo {
  id: string;
  state: SandboxState;
  provider: string;
  image: string;
  memory_mb: number;
  vcpus: number;
  created_at: string;
  expires_at: string;
  /** Absent when the sandbox has none. */
  metadata?: Record<string, string>;
  preview_domain?: string;
  worker_id?: string;
  updated_at?: string;
  state_reason?: string;
  owner_id?: string;
  tenant_id?: string;
  template?: string;
  vm_id?: string;
  /** Sent once, in the spawn response: preview access without credentials. */
  preview_token?: string;
}

/** Configuration values of a sandbox (a 0.1.x type, kept). */
export interface SandboxConfig {
  image: string;
  vcpus: number;
  memory_mb: number;
  provider: string;
  ttl: string;
  metadata: Record<string, string>;
}

/** Options of {@link Client.spawn} and {@link Client.admission}; all optional. */
export interface SpawnOptions {
  /** Image; `"alpine:latest"` unless `template` is given (then the template's). */
  image?: string;
  provider?: string;
  memory_mb?: number;
  vcpus?: number;
  /** Go duration (`"1h"`). */
  ttl?: string;
  /** Owner for quotas and access when no `X-User-ID` is sent. */
  owner_id?: string;
  /** Template whose values fill the unset fields. */
  template?: string;
  metadata?: Record<string, string>;
  /** Must be empty or the caller's tenant (global admins excepted). */
  tenant_id?: string;
  /** `"none"` or `"host"`. */
  network?: string;
  /** Sent as `Idempotency-Key` (spawn only): a retry returns the first result. */
  idempotency_key?: string;
}

/** Result of a spawn dry run (`POST /sandboxes/admission`). */
export interface SpawnAdmissionDecision {
  allowed: boolean;
  queueable: boolean;
  reason: string;
  active_sandboxes: number;
  max_sandboxes: number;
  active_owner_sandboxes: number;
  max_owner_sandboxes: number;
  /** Go duration; `""` when unlimited. */
  max_ttl: string;
}

/** Alias of {@link SpawnAdmissionDecision}. */
export type AdmissionDecision = SpawnAdmissionDecision;

/** Filters and paging of {@link Client.list}. */
export interface ListSandboxesOptions {
  state?: string;
  provider?: string;
  worker_id?: string;
  template?: string;
  /** Needs `operator:*`. */
  owner_id?: string;
  /** Needs `operator:*`. */
  include_destroyed?: boolean;
  limit?: number;
  cursor?: string;
}

/** Paging options of the list methods. */
export interface PageOptions {
  limit?: number;
  cursor?: string;
}

/**
 * An array that also carries the cursor of the next page in `nextCursor`
 * (`null` on the last page, and always when neither `limit` nor `cursor` was
 * given). The property is not enumerable, so the page compares and serialises
 * as a plain array.
 */
export type Page<T> = T[] & { nextCursor: string | null };

/** Resource usage of a sandbox; the numbers are present only when `supported`. */
export interface SandboxStats {
  supported: boolean;
  cpu_pct?: number;
  mem_bytes?: number;
  mem_limit_bytes?: number;
}

// --- exec --------------------------------------------------------------------

/** Options of {@link Sandbox.exec} and {@link Sandbox.execStream}. */
export interface ExecOptions {
  /** Arguments appended to the command. */
  args?: string[];
  /** `shell` (default: run through `/bin/sh -c`) or `argv` (run directly with `args`). */
  mode?: "shell" | "argv";
  env?: Record<string, string>;
  /** Absolute, or relative to `/workspace` (the default). */
  workdir?: string;
  /** Server-side timeout, a Go duration (`"10s"`). */
  timeout?: string;
  /** Sent to the process's stdin, which is then closed. */
  stdin?: string;
  /** `utf8` (default) or `base64` (stdout, stderr and `data` are then base64). */
  output_encoding?: "utf8" | "base64";
}

/** Result of a synchronous exec: exactly `{exit_code, stdout, stderr, duration}`. */
export interface ExecResult {
  exit_code: number;
  stdout: string;
  stderr: string;
  /** Go duration (`"12.3ms"`). */
  duration: string;
  /** Present (true) only when the server cut stdout at its output limit. */
  stdout_truncated?: boolean;
  /** Present (true) only when the server cut stderr at its output limit. */
  stderr_truncated?: boolean;
}

/** One output frame of a stream. */
export interface StreamChunk {
  /** `stdout` or `stderr` (exec), `console` (logs); `exit` only from {@link parseNDJSON}. */
  stream: "stdout" | "stderr" | "console" | "exit";
  data: string;
}

/** The envelope `{code, message}` carried inside a frame. */
export interface ErrorDetail {
  code: string;
  message: string;
}

/** The final frame of an exec or log stream. `exit_code` is -1 on timeout or failure. */
export interface ExecExit {
  exit_code: number;
  duration: string;
  timed_out: boolean;
  error?: ErrorDetail;
}

// --- files -------------------------------------------------------------------

/** An entry of `listFiles`, or the result of `statFile`. */
export interface FileInfo {
  path: string;
  name: string;
  size: number;
  /** Octal (`"0644"`). */
  mode: string;
  is_dir: boolean;
  mod_time: string;
}

// --- logs and events -----------------------------------------------------------

/** Options of {@link Client.streamEvents}. */
export interface StreamEventsOptions {
  sandbox_id?: string;
  /** Type filters (`"sandbox.*"`), a comma list or an array. */
  types?: string | string[];
  /** Send `event:` lines (off by default). */
  named?: boolean;
  /** Replay the events after this one first (`"0"` replays all retained events). */
  last_event_id?: string;
}

/** One server-sent event (`GET /events`). */
export interface Event {
  id: string;
  type: string;
  timestamp: string;
  sandbox_id?: string;
  worker_id?: string;
  data?: Record<string, unknown>;
}

// --- templates ---------------------------------------------------------------

/** A template as the server stores it. */
export interface Template {
  name: string;
  image: string;
  memory_mb: number;
  vcpus: number;
  /** Returned as submitted (`"1h"` reads back as `"1h"`). */
  ttl: string;
  provider: string;
  metadata: Record<string, string>;
  version?: number;
  description?: string;
  env?: Record<string, string>;
  setup?: string[];
  on_drain?: "expire" | "recreate";
  tenant_id?: string;
  created_at?: string;
  updated_at?: string;
}

/** A template to create or replace: `name` and `image` are required; the rest has server defaults. */
export interface TemplateConfig {
  name: string;
  image: string;
  /** Default 512. */
  memory_mb?: number;
  /** Default 1. */
  vcpus?: number;
  /** Default `"30m"`. */
  ttl?: string;
  /** `""` = the server's default provider. */
  provider?: string;
  metadata?: Record<string, string>;
  description?: string;
  /** Default exec environment of the template's sandboxes. */
  env?: Record<string, string>;
  /** Shell commands run after spawn. */
  setup?: string[];
  /** `expire` (default) or `recreate`. */
  on_drain?: "expire" | "recreate";
  /** `""` makes a global template (needs `operator:*`). */
  tenant_id?: string;
}

/** Overrides when spawning from a template. */
export interface TemplateSpawnOverrides {
  provider?: string;
  ttl?: string;
  metadata?: Record<string, string>;
  owner_id?: string;
  /** Sent as `Idempotency-Key`. */
  idempotency_key?: string;
}

// --- quotas ------------------------------------------------------------------

/** Redacted quota coverage counts: exactly these four keys. */
export interface QuotaSummary {
  total: number;
  with_max_sandboxes: number;
  with_max_ttl: number;
  with_max_exec_timeout: number;
}

/** A per-owner quota. Durations are Go durations; `""` inherits the global value. */
export interface OwnerQuota {
  owner_id: string;
  max_sandboxes: number;
  max_ttl: string;
  max_exec_timeout: string;
  created_at: string;
  updated_at: string;
}

/** Body of {@link Client.putQuota}; `0` / `""` inherit the global value. */
export interface PutQuotaOptions {
  max_sandboxes?: number;
  max_ttl?: string;
  max_exec_timeout?: string;
}

/** An owner's effective limits and active sandboxes. */
export interface QuotaUsage {
  owner_id: string;
  active_sandboxes: number;
  max_sandboxes: number;
  max_ttl: string;
  max_exec_timeout: string;
  quota_configured: boolean;
}

// --- providers and system ------------------------------------------------------

/** A provider of `GET /providers`. */
export interface ProviderInfo {
  name: string;
  healthy: boolean;
  default: boolean;
  latency_ms?: number;
  last_checked?: string;
  error?: string;
  capabilities?: string[];
  runtime_count?: number;
  location?: "local" | "remote" | "both";
  workers?: string[];
}

/** One provider's health and (redacted) configuration. */
export interface ProviderDetail {
  name: string;
  healthy: boolean;
  default: boolean;
  sandbox_count: number;
  health: Record<string, unknown>;
  config: Record<string, unknown>;
}

/** `GET /health`. */
export interface HealthInfo {
  status: string;
  version: string;
  uptime: string;
  warnings?: string[];
}

/** Alias of {@link HealthInfo}. */
export type Health = HealthInfo;

/** `GET /live`. */
export interface Live {
  status: string;
  version: string;
  uptime: string;
}

/** A provider's health inside {@link Readiness}. */
export interface ProviderHealth {
  name: string;
  healthy: boolean;
  latency_ms?: number;
  error?: string;
}

/** `GET /ready`, returned for both 200 and 503 (`status` is then `"not_ready"`). */
export interface Readiness {
  status: "ready" | "not_ready";
  version: string;
  uptime: string;
  providers: ProviderHealth[];
  ready_providers: number;
  total_providers: number;
  checks?: Record<string, string>;
}

/** `GET /pool/status`: pool mode is not built, so `{enabled: false}`. */
export interface VMPoolStatus {
  enabled: boolean;
  vms?: number;
  max_vms?: number;
  total_users?: number;
  max_users_per_vm?: number;
}

/** Alias of {@link VMPoolStatus}. */
export type PoolStatus = VMPoolStatus;

// --- API keys ------------------------------------------------------------------

/** An API key; `key` (the secret) is set only in the response that created it. */
export interface APIKey {
  id: string;
  role: string;
  description: string;
  created_at: string;
  key?: string;
  tenant_id?: string;
  owner_id?: string;
  expires_at?: string;
  revoked_at?: string;
  last_used_at?: string;
}

/** Options of {@link Client.createAPIKey}. */
export interface CreateAPIKeyOptions {
  tenant_id?: string;
  owner_id?: string;
  description?: string;
  /** Go duration (`"24h"`). */
  expires_in?: string;
}

// --- client ------------------------------------------------------------------

/** Options of the {@link Client} constructor. */
export interface ClientOptions {
  /** Full server URL; overrides `host` and `port`. */
  baseUrl?: string;
  /** Default `"localhost"`. */
  host?: string;
  /** Default 7423. */
  port?: number;
  /** Sent as `X-API-Key` (any key; its role decides, admin included). */
  apiKey?: string;
  /** Sent as `X-User-ID` (the acting owner). */
  userId?: string;
  /** Sent as `X-Tenant-ID`. */
  tenantId?: string;
  /** Sent as `X-Admin-API-Key`. */
  adminApiKey?: string;
  /**
   * Milliseconds (default 30000). Bounds each request until its response is
   * read; on streams it bounds the wait between two reads (an idle timeout).
   * `0` disables it.
   */
  timeout?: number;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** A `fetch` implementation (default: the global one). */
  fetch?: typeof fetch;
}

/** The 0.1.x name of {@link ClientOptions}. */
export type ForgevmClientOptions = ClientOptions;

/** Constructor input: a base URL or an options object. */
export type ClientConfig = string | ClientOptions;

/** The 0.1.x name of {@link ClientConfig}. */
export type ForgevmClientConfig = ClientConfig;

/** The error envelope of every error response. */
export interface ApiErrorBody {
  code: string;
  message: string;
}
