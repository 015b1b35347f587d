/**
 * Errors of the StacyVM SDK.
 *
 * Everything the SDK throws extends {@link StacyVMError}. API errors are
 * chosen by HTTP status first (404 -> {@link SandboxNotFoundError}, 401 ->
 * {@link UnauthorizedError}, >= 500 -> {@link ProviderError}, ...), then
 * refined by the envelope `code` (`{"code":"...","message":"..."}`) when a
 * more specific class of the same family exists. Failures without a response
 * (refused connection, DNS, reset, client timeout) are {@link ConnectionError}s.
 *
 * @module errors
 */

import type { ApiErrorBody } from "./models.js";

/** Base class of every error the SDK throws. */
export class StacyVMError extends Error {
  /** The envelope `code` (`"CONFLICT"`, ...); `""` when the server sent none. */
  public readonly code: string;
  /** HTTP status of the response, when there was one. */
  public readonly statusCode: number | undefined;
  /** The response's `X-Request-ID`, when there was a response. */
  public readonly requestId: string | undefined;

  constructor(message: string, code?: string, statusCode?: number, requestId?: string) {
    super(message);
    this.name = new.target.name;
    this.code = code ?? "";
    this.statusCode = statusCode;
    this.requestId = requestId;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** The 0.1.x name of {@link StacyVMError}. */
export const ForgevmError = StacyVMError;
/** The 0.1.x name of {@link StacyVMError}. */
export type ForgevmError = StacyVMError;

// --- 4xx ---------------------------------------------------------------------

/** 400: the request failed validation. */
export class BadRequestError extends StacyVMError {}

/** 400 `UNSUPPORTED_VERSION`: a protocol version the server does not speak. */
export class UnsupportedVersionError extends BadRequestError {}

/** 401: missing or invalid credential. */
export class UnauthorizedError extends StacyVMError {}

/** 403: scope missing, policy denied, or a conflicting tenant header. */
export class ForbiddenError extends StacyVMError {}

/**
 * 404: the sandbox (or template, file, quota, provider, ...) does not exist or
 * is not visible. Every 404 throws this class, as 0.1.x did; `sandboxId` is
 * set when the failed call addressed a sandbox.
 */
export class SandboxNotFoundError extends StacyVMError {
  /** The sandbox the failed call addressed, if any. */
  public readonly sandboxId: string | undefined;

  constructor(
    sandboxId?: string,
    message?: string,
    code: string = "NOT_FOUND",
    statusCode: number = 404,
    requestId?: string,
  ) {
    super(message ?? (sandboxId ? `Sandbox '${sandboxId}' not found` : "not found"), code, statusCode, requestId);
    this.sandboxId = sandboxId;
  }
}

/** Alias of {@link SandboxNotFoundError} for 404s that do not concern a sandbox. */
export const NotFoundError = SandboxNotFoundError;
/** Alias of {@link SandboxNotFoundError}. */
export type NotFoundError = SandboxNotFoundError;

/** 405: known path, wrong method. */
export class MethodNotAllowedError extends StacyVMError {}

/** 408 `TIMEOUT`: a synchronous exec passed its timeout. */
export class ExecTimeoutError extends StacyVMError {}

/** 409: duplicate name, idempotency-key mismatch, non-empty directory, ... */
export class ConflictError extends StacyVMError {}

/** 413: body or file above the server's limit. */
export class PayloadTooLargeError extends StacyVMError {}

/** 415: wrong body content type. */
export class UnsupportedMediaTypeError extends StacyVMError {}

/** 422 `SETUP_FAILED`: a template setup command failed; the sandbox was destroyed. */
export class SetupFailedError extends StacyVMError {}

/** 429: quota, capacity, TTL, exec timeout or rate limit exceeded. */
export class ResourceLimitError extends StacyVMError {
  /** The `Retry-After` header in seconds, when sent. */
  public retryAfter: number | undefined;
}

// --- 5xx ---------------------------------------------------------------------

/** >= 500: the server, a provider or a worker failed. */
export class ProviderError extends StacyVMError {
  constructor(message: string, code?: string, statusCode?: number, requestId?: string) {
    super(message, code ?? "PROVIDER_ERROR", statusCode, requestId);
  }
}

/** 500 `INTERNAL_ERROR`. */
export class InternalServerError extends ProviderError {}

/** 501 `NOT_IMPLEMENTED`: a route reserved for a later version. */
export class ServerNotImplementedError extends ProviderError {}

/** 502 `PREVIEW_UNREACHABLE`: nothing listens on the preview port. */
export class PreviewUnreachableError extends ProviderError {}

/** 503 `UNAVAILABLE`: provider unhealthy or no control-plane leader. */
export class UnavailableError extends ProviderError {}

/** 503 `WORKER_UNAVAILABLE`: the worker owning the sandbox is lost or unreachable. */
export class WorkerUnavailableError extends UnavailableError {}

// --- client side -------------------------------------------------------------

/** The connection to the server failed (refused, reset, DNS, TLS, bad URL, ...). */
export class ConnectionError extends StacyVMError {
  constructor(message: string, code: string = "CONNECTION_ERROR") {
    super(message, code);
  }
}

/**
 * The client gave up waiting: no response headers, or (on streams) no data,
 * within the client's `timeout`.
 */
export class ClientTimeoutError extends ConnectionError {
  constructor(message: string) {
    super(message, "CLIENT_TIMEOUT");
  }
}

/** A streamed response ended early (without its exit frame) or was malformed. */
export class StreamError extends StacyVMError {
  constructor(message: string) {
    super(message, "STREAM_ERROR");
  }
}

/** The server answered with a body the SDK cannot interpret. */
export class InvalidResponseError extends StacyVMError {}

// --- mapping -----------------------------------------------------------------

type ErrorClass = new (message: string, code?: string, statusCode?: number, requestId?: string) => StacyVMError;

const BY_STATUS: Record<number, ErrorClass> = {
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  405: MethodNotAllowedError,
  408: ExecTimeoutError,
  409: ConflictError,
  413: PayloadTooLargeError,
  415: UnsupportedMediaTypeError,
  422: SetupFailedError,
  429: ResourceLimitError,
};

const BY_CODE: Record<string, ErrorClass> = {
  UNSUPPORTED_VERSION: UnsupportedVersionError,
  INTERNAL_ERROR: InternalServerError,
  NOT_IMPLEMENTED: ServerNotImplementedError,
  PREVIEW_UNREACHABLE: PreviewUnreachableError,
  UNAVAILABLE: UnavailableError,
  WORKER_UNAVAILABLE: WorkerUnavailableError,
};

const DEFAULT_CODE: Record<number, string> = { 401: "UNAUTHORIZED", 404: "NOT_FOUND" };

/**
 * Build the error for a non-success response from its status, headers and body
 * text. The status picks the family; the envelope code may pick a subclass of it.
 */
export function errorFromResponse(
  status: number,
  headers: Headers,
  bodyText: string,
  sandboxId?: string,
  statusText: string = "",
): StacyVMError {
  let code = "";
  let message = "";
  try {
    const data = JSON.parse(bodyText) as Partial<ApiErrorBody> | null;
    if (data && typeof data === "object" && !Array.isArray(data)) {
      code = typeof data.code === "string" ? data.code : "";
      message = typeof data.message === "string" ? data.message : "";
    }
  } catch {
    // not JSON: the text itself is the message
  }
  if (!message) message = bodyText.trim() || `HTTP ${status} ${statusText}`.trim();
  if (!code) code = DEFAULT_CODE[status] ?? "";
  const requestId = headers.get("X-Request-ID") ?? undefined;

  if (status === 404) {
    return new SandboxNotFoundError(sandboxId, message, code, status, requestId);
  }
  const base: ErrorClass = status >= 500 ? ProviderError : BY_STATUS[status] ?? StacyVMError;
  const refined = BY_CODE[code];
  const cls = refined !== undefined && refined.prototype instanceof base ? refined : base;
  const err = new cls(message, code, status, requestId);
  if (err instanceof ResourceLimitError) {
    const retry = headers.get("Retry-After");
    const seconds = retry === null ? NaN : Number(retry);
    err.retryAfter = Number.isFinite(seconds) ? seconds : undefined;
  }
  return err;
}

/**
 * Throw the matching {@link StacyVMError} when `response` is not a success
 * (the 0.1.x helper, kept). The body of an error response is consumed.
 */
export async function handleResponse(response: Response, sandboxId?: string): Promise<void> {
  if (response.ok) return;
  const text = await response.text().catch(() => "");
  throw errorFromResponse(response.status, response.headers, text, sandboxId, response.statusText);
}
