// A streaming parser for server-sent events (WHATWG HTML §9.2.6, "event stream interpretation"): bytes arrive in
// arbitrary chunks, lines end in CRLF, LF or CR (a CR may end one chunk and its LF start the next), `data` lines
// of one event are joined with "\n", lines starting with ":" are comments, a blank line dispatches the event.

/** One dispatched event. */
export interface SseEvent {
  /** `event:` field, "message" when absent. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen (the spec's "last event ID"), "" if none. */
  id: string;
  /** `retry:` in milliseconds, if this event carried one. */
  retry?: number;
}

export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";
  private lastWasCR = false;
  private firstChunk = true;
  private data: string[] = [];
  private hasData = false;
  private eventType = "";
  private lastId = "";
  private retry: number | undefined;

  /** Feeds bytes (or text); returns the events completed by them. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.firstChunk && text.length > 0) {
      this.firstChunk = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return this.consume(text);
  }

  /** The end of the stream: flushes the decoder. An event not ended by a blank line is dropped (per the spec). */
  end(): SseEvent[] {
    const rest = this.decoder.decode();
    const out = rest ? this.consume(rest) : [];
    this.buffer = "";
    return out;
  }

  private consume(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    let i = 0;
    if (this.lastWasCR && text.startsWith("\n")) {
      start = i = 1;
    }
    this.lastWasCR = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = "";
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.lastWasCR = true;
        }
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buffer += text.slice(start);
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const hasData = this.hasData;
    const ev: SseEvent = { event: this.eventType || "message", data: this.data.join("\n"), id: this.lastId };
    if (this.retry !== undefined) ev.retry = this.retry;
    this.data = [];
    this.hasData = false;
    this.eventType = "";
    this.retry = undefined;
    return hasData ? ev : undefined;
  }
}

/** Reads a fetch body as SSE events, as they arrive. */
export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new DOMException("aborted", "AbortError");
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(value);
    }
    finished = true;
    yield* parser.end();
  } finally {
    // A consumer that stops early (or an abort) cancels the body, which closes the connection.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
