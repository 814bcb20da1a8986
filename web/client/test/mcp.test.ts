// McpClient against a real local MCP server (node:http) that checks what the gateway checks (the path, the bearer
// token) and answers as a Streamable HTTP server does: JSON or SSE, a session id on initialize, 404 for a session
// it forgot, JSON-RPC errors in a 200 or with a refusal status.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { AuthenticationResult } from "../src/cognito.ts";
import { MCP_PROTOCOL_HEADER, MCP_PROTOCOL_VERSION, MCP_SESSION_HEADER, McpClient, McpError } from "../src/mcp.ts";
import { TokenStore } from "../src/tokens.ts";

const ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_mcp-AbCdEf1234";
const valid = new Set<string>();
let issued = 0;
const tokenResult = (): AuthenticationResult => {
  const t = `tok-${++issued}`;
  valid.add(t);
  return { AccessToken: t, RefreshToken: "refresh", ExpiresIn: 3600 };
};

interface Seen {
  method: string;
  rpc: string;
  session: string | undefined;
  version: string | undefined;
  accept: string | undefined;
  token: string;
}
const seen: Seen[] = [];
const sessions = new Set<string>();
let sessionNo = 0;
let answerWith: "json" | "sse" = "json";
let serverVersion = MCP_PROTOCOL_VERSION;

function answer(res: http.ServerResponse, status: number, msg: unknown, headers: Record<string, string> = {}) {
  if (answerWith === "sse") {
    res.writeHead(status, { "content-type": "text/event-stream", ...headers });
    // A notification before the response, written in small pieces so events straddle chunks.
    const progress = { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } };
    const text = `: comment\n\nevent: message\ndata: ${JSON.stringify(progress)}\n\nevent: message\ndata: ${JSON.stringify(msg)}\n\n`;
    let i = 0;
    const next = () => {
      if (i >= text.length) return res.end();
      res.write(text.slice(i, i + 9));
      i += 9;
      setImmediate(next);
    };
    next();
  } else {
    res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(msg));
  }
}

function handle(req: http.IncomingMessage, res: http.ServerResponse, body: string) {
  const token = (req.headers["authorization"] ?? "").replace(/^Bearer /, "");
  const session = req.headers[MCP_SESSION_HEADER.toLowerCase()] as string | undefined;
  const m = (body ? JSON.parse(body) : {}) as { id?: number; method?: string; params?: Record<string, unknown> };
  seen.push({
    method: req.method ?? "",
    rpc: m.method ?? "",
    session,
    version: req.headers[MCP_PROTOCOL_HEADER.toLowerCase()] as string | undefined,
    accept: req.headers["accept"],
    token,
  });
  if (req.url !== `/runtimes/${encodeURIComponent(ARN)}/invocations?qualifier=DEFAULT`) {
    res.writeHead(404, { "content-type": "application/json", "x-amzn-errortype": "ResourceNotFoundException" }).end('{"message":"no such runtime"}');
    return;
  }
  if (!valid.has(token)) {
    res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer error="invalid_token"' }).end('{"message":"Invalid Bearer token"}');
    return;
  }
  if (req.method === "DELETE") {
    if (session) sessions.delete(session);
    res.writeHead(204).end();
    return;
  }
  if (m.method === "initialize") {
    const sid = `session-${++sessionNo}`;
    sessions.add(sid);
    const result = { protocolVersion: serverVersion, capabilities: { tools: {} }, serverInfo: { name: "test-server", version: "1" } };
    answer(res, 200, { jsonrpc: "2.0", id: m.id, result }, { [MCP_SESSION_HEADER]: sid });
    return;
  }
  if (!session || !sessions.has(session)) {
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }));
    return;
  }
  if (m.id === undefined) {
    res.writeHead(202).end();
    return;
  }
  const name = m.params?.["name"];
  if (m.method === "tools/list") {
    const page = m.params?.["cursor"] === "2" ? { tools: [{ name: "echo" }] } : { tools: [{ name: "whoami", description: "who" }], nextCursor: "2" };
    answer(res, 200, { jsonrpc: "2.0", id: m.id, result: page });
  } else if (m.method === "tools/call" && name === "whoami") {
    const who = { user_id: `user-of-${token}`, mcp_session_id: session };
    answer(res, 200, { jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: JSON.stringify(who) }], structuredContent: who } });
  } else if (m.method === "tools/call" && name === "admin_reset") {
    const error = { code: -32600, message: "insufficient_scope: the tool admin_reset needs the scope admin" };
    res.writeHead(403, { "content-type": "application/json", "www-authenticate": 'Bearer error="insufficient_scope", scope="admin"' }).end(JSON.stringify({ jsonrpc: "2.0", id: m.id, error }));
  } else {
    answer(res, 200, { jsonrpc: "2.0", id: m.id, error: { code: -32602, message: `Unknown tool: ${String(name)}`, data: { name } } });
  }
}

let server: http.Server;
let base = "";
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => handle(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen.length = 0;
  answerWith = "json";
  serverVersion = MCP_PROTOCOL_VERSION;
});

function client(opts: { refreshToken?: boolean; arn?: string; onMessage?: (m: Record<string, unknown>) => void } = {}) {
  const refresh = vi.fn(async () => tokenResult());
  const tokens = new TokenStore({ refresh });
  const first = tokenResult();
  if (opts.refreshToken === false) delete first.RefreshToken;
  tokens.set(first);
  const c = new McpClient({ gatewayUrl: base, arn: opts.arn ?? ARN, tokens, ...(opts.onMessage ? { onMessage: opts.onMessage } : {}) });
  return { c, tokens, refresh };
}

describe("McpClient over JSON answers", () => {
  it("initializes, sends the initialized notification, then the session id and revision on every request", async () => {
    const { c } = client();
    const init = await c.initialize();
    expect(init.protocolVersion).toBe(MCP_PROTOCOL_VERSION);
    expect(c.serverInfo?.name).toBe("test-server");
    const tools = await c.listTools();
    expect(tools.map((t) => t.name)).toEqual(["whoami", "echo"]);
    expect(seen.map((s) => s.rpc)).toEqual(["initialize", "notifications/initialized", "tools/list", "tools/list"]);
    expect(seen[0]!.session).toBeUndefined();
    expect(seen[0]!.version).toBeUndefined();
    for (const s of seen.slice(1)) {
      expect(s.session).toBe(c.sessionId);
      expect(s.version).toBe(MCP_PROTOCOL_VERSION);
    }
    expect(c.sessionId).toMatch(/^session-\d+$/);
    for (const s of seen) expect(s.accept).toBe("application/json, text/event-stream");
  });

  it("calls a tool, initializing first when not yet initialized", async () => {
    const { c, tokens } = client();
    const r = await c.callTool("whoami");
    expect(seen.map((s) => s.rpc)).toEqual(["initialize", "notifications/initialized", "tools/call"]);
    expect(r.structuredContent).toEqual({ user_id: `user-of-${tokens.current!.accessToken}`, mcp_session_id: c.sessionId });
    expect(r.content[0]!.type).toBe("text");
  });

  it("concurrent first calls share one initialize", async () => {
    const { c } = client();
    const [a, b] = await Promise.all([c.callTool("whoami"), c.listTools()]);
    expect(a.content).toHaveLength(1);
    expect(b.map((t) => t.name)).toEqual(["whoami", "echo"]);
    expect(seen.filter((s) => s.rpc === "initialize")).toHaveLength(1);
    expect(new Set(seen.slice(1).map((s) => s.session))).toEqual(new Set([c.sessionId]));
  });

  it("starts a new session once when the server forgot the session (404)", async () => {
    const { c } = client();
    await c.initialize();
    const old = c.sessionId!;
    sessions.delete(old);
    await c.callTool("whoami");
    expect(c.sessionId).not.toBe(old);
    expect(seen.map((s) => s.rpc)).toEqual(["initialize", "notifications/initialized", "tools/call", "initialize", "notifications/initialized", "tools/call"]);
    expect(seen[3]!.session).toBeUndefined();
  });

  it("ends the session with DELETE", async () => {
    const { c } = client();
    await c.initialize();
    const sid = c.sessionId!;
    await c.close();
    expect(sessions.has(sid)).toBe(false);
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", session: sid });
    expect(c.sessionId).toBeUndefined();
  });
});

describe("McpClient over SSE answers", () => {
  it("reads the response from the event stream and hands other messages to onMessage", async () => {
    answerWith = "sse";
    const messages: Record<string, unknown>[] = [];
    const { c } = client({ onMessage: (m) => messages.push(m) });
    await c.initialize();
    const r = await c.callTool("whoami");
    expect((r.structuredContent as { mcp_session_id: string }).mcp_session_id).toBe(c.sessionId);
    expect(messages.map((m) => m["method"])).toEqual(["notifications/progress", "notifications/progress"]);
    expect(seen.at(-1)!.session).toBe(c.sessionId);
  });

  it("surfaces a JSON-RPC error sent on the stream", async () => {
    answerWith = "sse";
    const { c } = client();
    const e = await c.callTool("nope").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(McpError);
    expect(e).toMatchObject({ status: 200, code: -32602, message: "Unknown tool: nope", data: { name: "nope" } });
  });
});

describe("McpClient refusals", () => {
  it("a JSON-RPC error in a 200 is an McpError with its code", async () => {
    const { c } = client();
    const e = await c.callTool("nope").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(McpError);
    expect(e).toMatchObject({ status: 200, code: -32602, message: "Unknown tool: nope" });
  });

  it("a refusal status with a JSON-RPC error keeps both", async () => {
    const { c } = client();
    const e = await c.callTool("admin_reset").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(McpError);
    expect(e).toMatchObject({ status: 403, code: -32600 });
    expect((e as McpError).message).toMatch(/insufficient_scope/);
  });

  it("a refusal without JSON-RPC is an McpError with the status and the gateway's message", async () => {
    const { c } = client({ arn: "arn:other" });
    const e = await c.initialize().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(McpError);
    expect(e).toMatchObject({ status: 404, code: undefined, message: "no such runtime" });
  });

  it("on a 401 refreshes once and retries with the new token", async () => {
    const { c, tokens, refresh } = client();
    await c.initialize();
    const before = tokens.current!.accessToken;
    valid.delete(before); // the gateway no longer accepts it
    const r = await c.callTool("whoami");
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(tokens.current!.accessToken).not.toBe(before);
    expect((r.structuredContent as { user_id: string }).user_id).toBe(`user-of-${tokens.current!.accessToken}`);
    expect(seen.slice(-2).map((s) => s.token)).toEqual([before, tokens.current!.accessToken]);
  });

  it("a 401 that a refresh cannot cure is an McpError 401", async () => {
    const { c, tokens, refresh } = client({ refreshToken: false });
    valid.delete(tokens.current!.accessToken);
    const e = await c.initialize().catch((x: unknown) => x);
    expect(refresh).not.toHaveBeenCalled();
    expect(e).toBeInstanceOf(McpError);
    expect(e).toMatchObject({ status: 401, message: "Invalid Bearer token" });
  });

  it("refuses a revision it does not speak", async () => {
    serverVersion = "2024-01-01";
    const { c } = client();
    const e = await c.initialize().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(McpError);
    expect((e as McpError).message).toMatch(/2024-01-01/);
    expect(c.protocolVersion).toBeUndefined();
    expect(seen.map((s) => s.rpc)).toEqual(["initialize"]);
  });
});
