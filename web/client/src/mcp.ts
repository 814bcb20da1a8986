// A small MCP client (Streamable HTTP, revision 2025-06-18) for a runtime whose protocol is "mcp": JSON-RPC POSTed
// to the runtime's invocations URL with the bearer access token (TokenStore.withAuth: one silent refresh and one
// retry on a 401, as invoke() does), answers read as JSON or as SSE (sse.ts), the Mcp-Session-Id of the initialize
// answer sent back on every later request (a 404 for it starts a new session once). HTTP refusals and JSON-RPC
// errors are McpError. Holds no token itself and never puts one anywhere but the Authorization header.
import { invocationsUrl, type RuntimeTarget } from "./invoke.ts";
import { readSse } from "./sse.ts";
import type { TokenStore } from "./tokens.ts";

export const MCP_PROTOCOL_VERSION = "2025-06-18";
/** Revisions whose initialize, tools/list and tools/call this client speaks. */
export const MCP_SUPPORTED_VERSIONS: readonly string[] = ["2025-03-26", "2025-06-18", "2025-11-25"];
export const MCP_SESSION_HEADER = "Mcp-Session-Id";
export const MCP_PROTOCOL_HEADER = "MCP-Protocol-Version";

/** A refusal: the HTTP status, and the JSON-RPC error code when the answer carried one. */
export class McpError extends Error {
  readonly status: number;
  /** The JSON-RPC error code (e.g. -32602), undefined for an HTTP refusal without one. */
  readonly code: number | undefined;
  readonly data: unknown;
  constructor(status: number, code: number | undefined, message: string, data?: unknown) {
    super(message);
    this.name = "McpError";
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

export interface McpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
}

export interface McpContent {
  type: string;
  text?: string;
  [k: string]: unknown;
}

export interface McpToolResult {
  content: McpContent[];
  structuredContent?: unknown;
  isError?: boolean;
}

export interface McpInitializeResult {
  protocolVersion: string;
  serverInfo?: { name: string; version?: string };
  capabilities?: Record<string, unknown>;
  instructions?: string;
}

export interface McpClientOptions extends RuntimeTarget {
  tokens: TokenStore;
  /** Sent as clientInfo in initialize. */
  clientInfo?: { name: string; version: string };
  /** Called with each notification or server request that arrives on an SSE answer before its response. */
  onMessage?: (message: Record<string, unknown>) => void;
  signal?: AbortSignal;
  fetchImpl?: typeof fetch;
}

interface RpcResponse {
  id?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown; data?: unknown };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The JSON-RPC error of `v` as an McpError, if it is one. */
function rpcError(status: number, v: unknown): McpError | undefined {
  if (!isObject(v) || !isObject(v["error"])) return undefined;
  const e = v["error"];
  const code = typeof e["code"] === "number" ? e["code"] : undefined;
  const message = typeof e["message"] === "string" && e["message"] ? e["message"] : `JSON-RPC error ${code ?? ""}`.trim();
  return new McpError(status, code, message, e["data"]);
}

/** An HTTP refusal: a JSON-RPC error body, an AgentCore-style {message}, or the text itself. */
async function refusal(resp: Response): Promise<McpError> {
  const text = await resp.text().catch(() => "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return new McpError(resp.status, undefined, text || `HTTP ${resp.status}`);
  }
  const rpc = rpcError(resp.status, parsed);
  if (rpc) return rpc;
  const o = isObject(parsed) ? parsed : {};
  const message = o["message"] ?? o["Message"];
  return new McpError(resp.status, undefined, typeof message === "string" && message ? message : text || `HTTP ${resp.status}`);
}

export class McpClient {
  private readonly o: McpClientOptions;
  private readonly fetchImpl: typeof fetch;
  private nextId = 1;
  /** The initialize in flight, shared by the requests that wait for it. */
  private starting: Promise<McpInitializeResult> | undefined;
  /** The session the server (or the gateway) issued in its initialize answer. */
  sessionId: string | undefined;
  /** The negotiated revision, once initialized. */
  protocolVersion: string | undefined;
  serverInfo: McpInitializeResult["serverInfo"];

  constructor(o: McpClientOptions) {
    this.o = o;
    this.fetchImpl = o.fetchImpl ?? globalThis.fetch.bind(globalThis);
  }

  /** Starts a session: initialize, then the notifications/initialized notification (one at a time). */
  initialize(): Promise<McpInitializeResult> {
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async start(): Promise<McpInitializeResult> {
    this.sessionId = undefined;
    this.protocolVersion = undefined;
    const params = {
      protocolVersion: MCP_PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: this.o.clientInfo ?? { name: "gatehouse-web", version: "0.1.0" },
    };
    const { result, resp } = await this.exchange("initialize", params);
    if (!isObject(result) || typeof result["protocolVersion"] !== "string") {
      throw new McpError(resp.status, undefined, "initialize answered without a protocolVersion");
    }
    const version = result["protocolVersion"];
    if (!MCP_SUPPORTED_VERSIONS.includes(version)) {
      throw new McpError(resp.status, undefined, `the server speaks MCP ${version}, which this client does not`);
    }
    this.sessionId = resp.headers.get(MCP_SESSION_HEADER) ?? undefined;
    this.protocolVersion = version;
    const init = result as unknown as McpInitializeResult;
    this.serverInfo = init.serverInfo;
    await this.notify("notifications/initialized");
    return init;
  }

  /** Every tool the server lists (following nextCursor). */
  async listTools(): Promise<McpTool[]> {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await this.request("tools/list", cursor === undefined ? {} : { cursor });
      if (!isObject(r) || !Array.isArray(r["tools"])) throw new McpError(200, undefined, "tools/list answered without tools");
      tools.push(...(r["tools"] as McpTool[]).filter((t) => isObject(t) && typeof t.name === "string"));
      cursor = typeof r["nextCursor"] === "string" && r["nextCursor"] ? r["nextCursor"] : undefined;
      if (cursor === undefined) break;
    }
    return tools;
  }

  /** Calls a tool; a tool's own failure is a result with isError, a refusal is an McpError. */
  async callTool(name: string, args: Record<string, unknown> = {}): Promise<McpToolResult> {
    const r = await this.request("tools/call", { name, arguments: args });
    if (!isObject(r) || !Array.isArray(r["content"])) throw new McpError(200, undefined, "tools/call answered without content");
    return r as unknown as McpToolResult;
  }

  /** Ends the session (DELETE); a server that does not support it (405) is fine. */
  async close(): Promise<void> {
    if (this.sessionId === undefined) return;
    const resp = await this.send("DELETE");
    await resp.body?.cancel().catch(() => undefined);
    this.sessionId = undefined;
    if (!resp.ok && resp.status !== 405 && resp.status !== 404) throw await refusal(resp);
  }

  /** A request in the session; initializes first if needed, and once more if the server forgot the session. */
  async request(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (this.protocolVersion === undefined || this.starting) await this.initialize();
    try {
      return (await this.exchange(method, params)).result;
    } catch (e) {
      if (!(e instanceof McpError) || e.status !== 404 || this.sessionId === undefined) throw e;
      await this.initialize();
      return (await this.exchange(method, params)).result;
    }
  }

  /** A notification: no id, no answer but 202. */
  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    const resp = await this.send("POST", JSON.stringify({ jsonrpc: "2.0", method, ...(params ? { params } : {}) }));
    if (!resp.ok) throw await refusal(resp);
    await resp.body?.cancel().catch(() => undefined);
  }

  private async exchange(method: string, params: Record<string, unknown>): Promise<{ result: unknown; resp: Response }> {
    const id = this.nextId++;
    const resp = await this.send("POST", JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    if (!resp.ok) throw await refusal(resp);
    const answer = await this.response(resp, id);
    const err = rpcError(resp.status, answer);
    if (err) throw err;
    if (!("result" in answer)) throw new McpError(resp.status, undefined, `${method} answered without a result`);
    return { result: answer.result, resp };
  }

  /** The response to request `id`, from a JSON body or from the SSE stream (other messages go to onMessage). */
  private async response(resp: Response, id: number): Promise<RpcResponse> {
    const type = resp.headers.get("content-type") ?? "";
    const matches = (m: unknown): m is RpcResponse => isObject(m) && m["id"] === id && ("result" in m || "error" in m);
    if (type.startsWith("text/event-stream") && resp.body) {
      for await (const ev of readSse(resp.body, this.o.signal)) {
        if (ev.event !== "message" || !ev.data) continue;
        const m = parseJson(resp.status, ev.data);
        if (matches(m)) return m; // leaving the loop cancels the rest of the stream
        if (isObject(m)) this.o.onMessage?.(m);
      }
      throw new McpError(resp.status, undefined, "the event stream ended without the response");
    }
    const body = parseJson(resp.status, await resp.text());
    const found = Array.isArray(body) ? body.find(matches) : body;
    if (!matches(found)) throw new McpError(resp.status, undefined, "the answer is not the JSON-RPC response to the request");
    return found;
  }

  private send(method: "POST" | "DELETE", body?: string): Promise<Response> {
    return this.o.tokens.withAuth((token) => {
      const headers: Record<string, string> = {
        Authorization: `Bearer ${token}`,
        Accept: "application/json, text/event-stream",
      };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (this.sessionId !== undefined) headers[MCP_SESSION_HEADER] = this.sessionId;
      if (this.protocolVersion !== undefined) headers[MCP_PROTOCOL_HEADER] = this.protocolVersion;
      return this.fetchImpl(invocationsUrl(this.o), {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: this.o.signal ?? null,
        cache: "no-store",
      });
    });
  }
}

function parseJson(status: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new McpError(status, undefined, "the answer is not JSON");
  }
}
