/**
 * Sending requests: one description per request ({@link Call}) and one
 * runner ({@link Transport}) that sends it with `fetch`, applies the timeout,
 * maps error responses to typed errors and wraps every transport failure.
 *
 * @module transport
 */

import {
  ClientTimeoutError,
  ConnectionError,
  InvalidResponseError,
  StacyVMError,
  errorFromResponse,
} from "./errors.js";
import { VERSION } from "./version.js";

/** `User-Agent` of every request. */
export const USER_AGENT = `stacyvm-js/${VERSION}`;

/** A response read in full. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/**
 * One HTTP request of the API and how to read its successful response.
 * `json` is sent as a JSON body, `content` as a raw body. `sandboxId` names
 * the sandbox a 404 refers to; `accept` lists non-2xx statuses whose body is
 * still a normal result (`/ready`'s 503).
 */
export interface Call<T> {
  method: string;
  path: string;
  parse: (response: RawResponse) => T;
  query?: Record<string, string>;
  json?: unknown;
  content?: Uint8Array;
  headers?: Record<string, string>;
  sandboxId?: string;
  accept?: number[];
}

/** Settings of a {@link Transport}. */
export interface TransportOptions {
  baseUrl: string;
  headers: Record<string, string>;
  /** Milliseconds; 0 (or a non-finite number) disables the timeout. */
  timeout: number;
  fetch?: typeof fetch;
}

const utf8 = new TextDecoder("utf-8");

/** Decode UTF-8 (invalid bytes become U+FFFD). */
export function decodeText(body: Uint8Array): string {
  return utf8.decode(body);
}

/** A restartable timer that aborts a request when it fires. */
class Deadline {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ms: number) {}

  arm(): void {
    this.clear();
    if (this.ms > 0 && Number.isFinite(this.ms)) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.controller.abort();
      }, this.ms);
    }
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message} (${typeof code === "string" ? `${code}: ` : ""}${cause.message})`;
  }
  return err.message;
}

/** Sends {@link Call}s to one server with one set of default headers. */
export class Transport {
  readonly baseUrl: string;
  readonly headers: Record<string, string>;
  readonly timeout: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.headers = { ...options.headers };
    this.timeout = options.timeout;
    // Look the global up at call time, so a fetch installed later is used.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The absolute URL of a call, query included. */
  url(call: Call<unknown>): string {
    let url = this.baseUrl + call.path;
    if (call.query && Object.keys(call.query).length > 0) {
      url += "?" + new URLSearchParams(call.query).toString();
    }
    return url;
  }

  private init(call: Call<unknown>, signal: AbortSignal): RequestInit {
    const headers: Record<string, string> = { ...this.headers, ...call.headers };
    let body: string | Uint8Array | undefined;
    if (call.json !== undefined) {
      body = JSON.stringify(call.json);
      headers["Content-Type"] = "application/json";
    } else if (call.content !== undefined) {
      body = call.content;
      headers["Content-Type"] = "application/octet-stream";
    }
    return { method: call.method, headers, body: body ?? null, signal };
  }

  /** Turn a fetch or body-read failure into the SDK's error. */
  private wrap(err: unknown, call: Call<unknown>, deadline: Deadline): StacyVMError {
    if (err instanceof StacyVMError) return err;
    let wrapped: StacyVMError;
    if (deadline.timedOut) {
      wrapped = new ClientTimeoutError(
        `Request to StacyVM server timed out: no data from ${call.method} ${this.baseUrl}${call.path} within ${this.timeout} ms`,
      );
    } else {
      wrapped = new ConnectionError(`Cannot connect to StacyVM server at ${this.baseUrl}: ${describe(err)}`);
    }
    (wrapped as { cause?: unknown }).cause = err;
    return wrapped;
  }

  /** Send a call, read the whole response and parse it (or throw the typed error). */
  async send<T>(call: Call<T>): Promise<T> {
    const deadline = new Deadline(this.timeout);
    deadline.arm();
    let response: Response;
    let body: Uint8Array;
    try {
      response = await this.fetchImpl(this.url(call), this.init(call, deadline.controller.signal));
      body = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      throw this.wrap(err, call, deadline);
    } finally {
      deadline.clear();
    }
    const ok = response.status >= 200 && response.status < 300;
    if (!ok && !(call.accept ?? []).includes(response.status)) {
      throw errorFromResponse(response.status, response.headers, decodeText(body), call.sandboxId, response.statusText);
    }
    try {
      return call.parse({ status: response.status, headers: response.headers, body });
    } catch (err) {
      if (err instanceof StacyVMError) throw err;
      throw new InvalidResponseError(
        `unexpected response to ${call.method} ${call.path}: ${err instanceof Error ? err.message : String(err)}`,
        "INVALID_RESPONSE",
        response.status,
        response.headers.get("X-Request-ID") ?? undefined,
      );
    }
  }

  /**
   * Send a call and yield the lines of its streamed response (without their
   * line ends). Nothing is sent until the first line is requested. The
   * timeout bounds the wait for the headers and for each read (an idle
   * timeout); the consumer's own time between two lines does not count.
   * Returning early closes the response.
   */
  async *lines(call: Call<unknown>): AsyncGenerator<string, void, undefined> {
    const deadline = new Deadline(this.timeout);
    deadline.arm();
    let response: Response;
    try {
      response = await this.fetchImpl(this.url(call), this.init(call, deadline.controller.signal));
      if (!response.ok) {
        const text = await response.text();
        throw errorFromResponse(response.status, response.headers, text, call.sandboxId, response.statusText);
      }
    } catch (err) {
      deadline.clear();
      throw this.wrap(err, call, deadline);
    }
    deadline.clear();
    if (response.body === null) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder("utf-8");
    let buffer = "";
    try {
      for (;;) {
        deadline.arm();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw this.wrap(err, call, deadline);
        } finally {
          deadline.clear();
        }
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf("\n")) !== -1) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          yield line.endsWith("\r") ? line.slice(0, -1) : line;
        }
      }
      buffer += decoder.decode();
      if (buffer.length > 0) yield buffer;
    } finally {
      deadline.clear();
      // Closes the connection when the consumer stopped early; harmless at the end.
      await reader.cancel().catch(() => undefined);
    }
  }
}
