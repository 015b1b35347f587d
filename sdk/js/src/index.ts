/**
 * StacyVM JavaScript/TypeScript SDK: the client of StacyVM, the self-hosted
 * sandbox service. ES modules, no runtime dependencies (Node 18+ `fetch`).
 *
 * ```ts
 * import { Client } from "stacyvm";
 *
 * const client = new Client("http://127.0.0.1:7423");
 * const sandbox = await client.spawn({ image: "alpine:latest" });
 * console.log((await sandbox.exec("echo hello")).stdout);
 * await sandbox.destroy();
 * ```
 *
 * @packageDocumentation
 */

export { Client, DEFAULT_PORT, DEFAULT_TIMEOUT } from "./client.js";
export { Sandbox } from "./sandbox.js";
export { TemplateManager } from "./templates.js";
export {
  StacyVMError,
  ForgevmError,
  BadRequestError,
  UnsupportedVersionError,
  UnauthorizedError,
  ForbiddenError,
  SandboxNotFoundError,
  NotFoundError,
  MethodNotAllowedError,
  ExecTimeoutError,
  ConflictError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  SetupFailedError,
  ResourceLimitError,
  ProviderError,
  InternalServerError,
  ServerNotImplementedError,
  PreviewUnreachableError,
  UnavailableError,
  WorkerUnavailableError,
  ConnectionError,
  ClientTimeoutError,
  StreamError,
  InvalidResponseError,
  errorFromResponse,
  handleResponse,
} from "./errors.js";
export { ExecStream, LogStream, EventStream, SSEParser, parseNDJSON, parseFrame } from "./streaming.js";
export { USER_AGENT } from "./transport.js";
export { VERSION } from "./version.js";
export type {
  APIKey,
  AdmissionDecision,
  ApiErrorBody,
  ClientConfig,
  ClientOptions,
  CreateAPIKeyOptions,
  ErrorDetail,
  Event,
  ExecExit,
  ExecOptions,
  ExecResult,
  FileInfo,
  ForgevmClientConfig,
  ForgevmClientOptions,
  Health,
  HealthInfo,
  ListSandboxesOptions,
  Live,
  OwnerQuota,
  Page,
  PageOptions,
  PoolStatus,
  ProviderDetail,
  ProviderHealth,
  ProviderInfo,
  PutQuotaOptions,
  QuotaSummary,
  QuotaUsage,
  Readiness,
  SandboxConfig,
  SandboxInfo,
  SandboxState,
  SandboxStats,
  SpawnAdmissionDecision,
  SpawnOptions,
  StreamChunk,
  StreamEventsOptions,
  Template,
  TemplateConfig,
  TemplateSpawnOverrides,
  VMPoolStatus,
} from "./models.js";
