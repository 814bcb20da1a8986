// InvokeAgentRuntime over HTTP as a browser does it: POST {gateway}/runtimes/{url-encoded ARN}/invocations with
// the bearer access token and the session id header; the reply streams back as server-sent events, read as they
// arrive. A 401 gets one silent refresh and one retry (TokenStore.withAuth).
import { readSse, type SseEvent } from "./sse.ts";
import type { TokenStore } from "./tokens.ts";

export const SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id";

/** Which runtime to call. */
export interface RuntimeTarget {
  gatewayUrl: string;
  arn: string;
  /** Endpoint name (default "DEFAULT"). */
  qualifier?: string;
}

export function invocationsUrl(t: RuntimeTarget): string {
  return `${t.gatewayUrl.replace(/\/+$/, "")}/runtimes/${encodeURIComponent(t.arn)}/invocations?qualifier=${encodeURIComponent(t.qualifier ?? "DEFAULT")}`;
}

/** A refusal from the gateway (AgentCore-style: HTTP status, exception name, message). */
export class InvokeError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(status: number, type: string, message: string) {
    super(message);
    this.name = "InvokeError";
    this.status = status;
    this.type = type;
  }
}

export interface InvokeOptions extends RuntimeTarget {
  sessionId: string;
  /** The JSON body for the agent. */
  payload: unknown;
  tokens: TokenStore;
  signal?: AbortSignal;
  /** Extra request headers (e.g. X-Amzn-Bedrock-AgentCore-Runtime-Custom-*). */
  headers?: Record<string, string>;
  fetchImpl?: typeof fetch;
}

export interface Invocation {
  status: number;
  /** The session id the gateway used (echoed in the response header). */
  sessionId: string;
  contentType: string;
  /** The reply: SSE events as they arrive; a JSON reply is one "message" event with the whole body. */
  events: AsyncGenerator<SseEvent>;
}

async function* single(body: string): AsyncGenerator<SseEvent> {
  yield await Promise.resolve({ event: "message", data: body, id: "" });
}

/** Invokes the runtime; resolves when the response headers arrive, then stream `events`. */
export async function invoke(o: InvokeOptions): Promise<Invocation> {
  const fetchImpl = o.fetchImpl ?? globalThis.fetch.bind(globalThis);
  const body = JSON.stringify(o.payload ?? {});
  const resp = await o.tokens.withAuth((token) =>
    fetchImpl(invocationsUrl(o), {
      method: "POST",
      headers: {
        ...o.headers,
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        Accept: "text/event-stream, application/json",
        [SESSION_HEADER]: o.sessionId,
      },
      body,
      signal: o.signal ?? null,
      cache: "no-store",
    }),
  );
  const contentType = resp.headers.get("content-type") ?? "";
  if (!resp.ok) {
    const text = await resp.text().catch(() => "");
    let message = text || `HTTP ${resp.status}`;
    try {
      const j = JSON.parse(text) as { message?: string; Message?: string };
      message = j.message ?? j.Message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new InvokeError(resp.status, resp.headers.get("x-amzn-errortype") ?? "Error", message);
  }
  const sessionId = resp.headers.get(SESSION_HEADER) ?? o.sessionId;
  const events =
    contentType.startsWith("text/event-stream") && resp.body
      ? readSse(resp.body, o.signal)
      : single(await resp.text());
  return { status: resp.status, sessionId, contentType, events };
}
