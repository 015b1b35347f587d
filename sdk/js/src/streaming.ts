/**
 * Streamed responses: NDJSON exec and console frames, server-sent events.
 *
 * The NDJSON parser skips blank keep-alive lines and anything that is not a
 * JSON object. Exec and log streams end with an exit frame, kept in `exit`;
 * a stream that ends without one throws {@link StreamError}.
 *
 * @module streaming
 */

import { StreamError } from "./errors.js";
import type { ErrorDetail, Event, ExecExit, StreamChunk } from "./models.js";

/** Decode one NDJSON line; `undefined` for blank keep-alives and non-JSON lines. */
export function parseFrame(line: string): Record<string, unknown> | undefined {
  const text = line.trim();
  if (text.length === 0) return undefined;
  try {
    const frame: unknown = JSON.parse(text);
    return frame !== null && typeof frame === "object" && !Array.isArray(frame)
      ? (frame as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function chunkOf(frame: Record<string, unknown>): StreamChunk {
  const stream = frame["stream"];
  const data = frame["data"];
  return {
    stream: (typeof stream === "string" ? stream : "stdout") as StreamChunk["stream"],
    data: typeof data === "string" ? data : "",
  };
}

/** The exit frame as an {@link ExecExit}. */
export function exitOf(frame: Record<string, unknown>): ExecExit {
  const code = frame["exit_code"];
  const duration = frame["duration"];
  const error = frame["error"];
  const exit: ExecExit = {
    exit_code: typeof code === "number" ? code : -1,
    duration: typeof duration === "string" ? duration : "",
    timed_out: frame["timed_out"] === true,
  };
  if (error !== null && typeof error === "object") {
    const e = error as Record<string, unknown>;
    const detail: ErrorDetail = {
      code: typeof e["code"] === "string" ? e["code"] : "",
      message: typeof e["message"] === "string" ? e["message"] : "",
    };
    exit.error = detail;
  }
  return exit;
}

/**
 * Parse an NDJSON body into chunks (the 0.1.x helper, kept): every JSON
 * object line becomes a chunk, the exit frame included (`stream: "exit"`,
 * empty `data`); blank and non-JSON lines are skipped.
 */
export async function* parseNDJSON(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamChunk, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (value !== undefined) buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf("\n")) !== -1) {
        const frame = parseFrame(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (frame !== undefined) yield chunkOf(frame);
      }
      if (done) break;
    }
    const frame = parseFrame(buffer + decoder.decode());
    if (frame !== undefined) yield chunkOf(frame);
  } finally {
    reader.releaseLock();
  }
}

/**
 * Items of an NDJSON stream whose last frame is `{"stream":"exit",...}`.
 * Iterate it with `for await`; afterwards `exit` holds the exit frame.
 */
abstract class FrameStream<T> implements AsyncIterableIterator<T> {
  /** The final frame, once the stream has ended (`undefined` before, or when closed early). */
  exit: ExecExit | undefined = undefined;
  private lines: AsyncGenerator<string, void, undefined> | undefined;
  private finished = false;

  protected abstract readonly what: string;

  /** @internal */
  constructor(private readonly open: () => AsyncGenerator<string, void, undefined>) {}

  protected abstract _item(frame: Record<string, unknown>): T | undefined;

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.finished) return { done: true, value: undefined };
    this.lines ??= this.open();
    try {
      for (;;) {
        const line = await this.lines.next();
        if (line.done) break;
        const frame = parseFrame(line.value);
        if (frame === undefined) continue;
        if (frame["stream"] === "exit") {
          this.exit = exitOf(frame);
          await this.close();
          return { done: true, value: undefined };
        }
        const item = this._item(frame);
        if (item !== undefined) return { done: false, value: item };
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    await this.close();
    throw new StreamError(`${this.what} ended without an exit frame`);
  }

  /** Stop early: close the response (what `break` in a `for await` loop calls). */
  async return(): Promise<IteratorResult<T, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  async throw(err?: unknown): Promise<IteratorResult<T, undefined>> {
    await this.close();
    throw err;
  }

  /** Read (and drop) the rest of the stream; resolve to its exit frame. */
  async wait(): Promise<ExecExit> {
    for (;;) {
      const step = await this.next();
      if (step.done) break;
    }
    if (this.exit === undefined) throw new StreamError(`${this.what} was closed before its exit frame`);
    return this.exit;
  }

  /** Close the underlying response (safe to call more than once). */
  async close(): Promise<void> {
    this.finished = true;
    const lines = this.lines;
    this.lines = undefined;
    if (lines !== undefined) await lines.return(undefined);
  }
}

/**
 * Output of a streamed exec: yields {@link StreamChunk}s (`stdout`/`stderr`),
 * then `exit` holds the exit frame.
 *
 * ```ts
 * const stream = sandbox.execStream("make test");
 * for await (const chunk of stream) process.stdout.write(chunk.data);
 * console.log("exit code", stream.exit?.exit_code);
 * ```
 */
export class ExecStream extends FrameStream<StreamChunk> {
  protected readonly what = "exec stream";

  protected _item(frame: Record<string, unknown>): StreamChunk {
    return chunkOf(frame);
  }
}

/** A followed console log: yields lines until the sandbox is destroyed (then `exit` is set). */
export class LogStream extends FrameStream<string> {
  protected readonly what = "log stream";

  protected _item(frame: Record<string, unknown>): string {
    const data = frame["data"];
    return typeof data === "string" ? data : "";
  }
}

/**
 * Incremental parser of `text/event-stream` lines. Comments (`: ping`),
 * `retry:` and non-JSON `data` are skipped.
 */
export class SSEParser {
  /** ID of the last event received. */
  lastEventId: string | undefined = undefined;
  private data: string[] = [];

  /** Take one line (without its line end); return an event when one is complete. */
  feed(line: string): Event | undefined {
    const text = line.replace(/\r?\n$/, "");
    if (text.length === 0) return this.dispatch();
    if (text.startsWith(":")) return undefined;
    const colon = text.indexOf(":");
    const name = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.data.push(value);
    else if (name === "id") this.lastEventId = value;
    return undefined;
  }

  private dispatch(): Event | undefined {
    if (this.data.length === 0) return undefined;
    const payload = this.data.join("\n");
    this.data = [];
    try {
      const event: unknown = JSON.parse(payload);
      return event !== null && typeof event === "object" && !Array.isArray(event) ? (event as Event) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Server-sent events of `GET /events`: endless, so `close()` (or `break`) when done. */
export class EventStream implements AsyncIterableIterator<Event> {
  private readonly parser = new SSEParser();
  private lines: AsyncGenerator<string, void, undefined> | undefined;
  private finished = false;

  /** @internal */
  constructor(private readonly open: () => AsyncGenerator<string, void, undefined>) {}

  /** ID of the last event received, to resume with `last_event_id`. */
  get lastEventId(): string | undefined {
    return this.parser.lastEventId;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Event, undefined>> {
    if (this.finished) return { done: true, value: undefined };
    this.lines ??= this.open();
    try {
      for (;;) {
        const line = await this.lines.next();
        if (line.done) break;
        const event = this.parser.feed(line.value);
        if (event !== undefined) return { done: false, value: event };
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    await this.close();
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<Event, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Close the underlying response (safe to call more than once). */
  async close(): Promise<void> {
    this.finished = true;
    const lines = this.lines;
    this.lines = undefined;
    if (lines !== undefined) await lines.return(undefined);
  }
}
