// invoke() and connect() against real local servers (node:http and the ws package) that check what a gateway
// checks: the path, the bearer token, the session id, the subprotocol pair.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AuthenticationResult } from "../src/cognito.ts";
import { InvokeError, SESSION_HEADER, invoke } from "../src/invoke.ts";
import { newSessionId } from "../src/session.ts";
import { TokenStore } from "../src/tokens.ts";
import { connect, subprotocols, SUBPROTOCOL, type WebSocketCtor } from "../src/ws.ts";

const ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo-AbCdEf1234";
const valid = new Set<string>();
let issued = 0;
const tokenResult = (): AuthenticationResult => {
  const t = `tok-${++issued}`;
  valid.add(t);
  return { AccessToken: t, RefreshToken: "refresh", ExpiresIn: 3600 };
};

let server: http.Server;
let wss: WebSocketServer;
let base = "";
const wsSeen: { protocols: string[]; url: string; messages: string[] }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const expected = `/runtimes/${encodeURIComponent(ARN)}/invocations?qualifier=DEFAULT`;
    const auth = req.headers["authorization"] ?? "";
    const token = auth.replace(/^Bearer /, "");
    if (req.url !== expected) {
      res.writeHead(404, { "x-amzn-errortype": "ResourceNotFoundException" }).end('{"message":"no such runtime"}');
      return;
    }
    if (!valid.has(token)) {
      res.writeHead(401, { "x-amzn-errortype": "UnauthorizedException" }).end('{"message":"token expired"}');
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const sid = String(req.headers[SESSION_HEADER.toLowerCase()]);
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", [SESSION_HEADER]: sid });
      const prompt = (JSON.parse(body) as { prompt: string }).prompt;
      const events = [{ type: "whoami", session_id: sid }, ...prompt.split(" ").map((w) => ({ type: "text", text: w })), { type: "done" }];
      // Write byte-sized pieces so events straddle chunks.
      const text = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("");
      let i = 0;
      const next = () => {
        if (i >= text.length) return res.end();
        res.write(text.slice(i, i + 7));
        i += 7;
        setImmediate(next);
      };
      next();
    });
  });
  wss = new WebSocketServer({
    server,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    verifyClient: (info, done) => {
      const protos = String(info.req.headers["sec-websocket-protocol"] ?? "").split(/,\s*/);
      const carrier = protos.find((p) => p.startsWith(`${SUBPROTOCOL}.`)) ?? "";
      const token = Buffer.from(carrier.slice(SUBPROTOCOL.length + 1), "base64url").toString();
      done(valid.has(token), 401);
    },
  });
  wss.on("connection", (ws, req) => {
    const seen = { protocols: String(req.headers["sec-websocket-protocol"]).split(/,\s*/), url: req.url ?? "", messages: [] as string[] };
    wsSeen.push(seen);
    ws.on("message", (data) => {
      const text = (data as Buffer).toString();
      seen.messages.push(text);
      const v = JSON.parse(text) as { type?: string; token?: string; prompt?: string };
      if (v.type === "gatehouse.reauth") {
        ws.send(JSON.stringify(valid.has(v.token ?? "") ? { type: "gatehouse.reauth.ok", expires_at: 1 } : { type: "gatehouse.reauth.error", message: "bad" }));
      } else {
        ws.send(JSON.stringify({ type: "reply", text: `You said: ${v.prompt}` }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  wss.close();
  await new Promise<void>((r) => server.close(() => r()));
});

function store() {
  const refresh = vi.fn(async () => tokenResult());
  const s = new TokenStore({ refresh });
  s.set(tokenResult());
  return { s, refresh };
}

describe("invoke over SSE", () => {
  it("sends the bearer token and session id to the url-encoded ARN and streams the events", async () => {
    const { s } = store();
    const sessionId = newSessionId();
    const inv = await invoke({ gatewayUrl: base, arn: ARN, sessionId, payload: { prompt: "hello streaming world" }, tokens: s });
    expect(inv.sessionId).toBe(sessionId);
    const events = [];
    for await (const ev of inv.events) events.push(JSON.parse(ev.data) as { type: string; text?: string });
    expect(events.map((e) => e.type)).toEqual(["whoami", "text", "text", "text", "done"]);
    expect(events.filter((e) => e.type === "text").map((e) => e.text).join(" ")).toBe("hello streaming world");
  });

  it("on a 401 refreshes once and retries", async () => {
    const { s, refresh } = store();
    valid.delete(s.current!.accessToken); // the gateway no longer accepts it
    const inv = await invoke({ gatewayUrl: base, arn: ARN, sessionId: newSessionId(), payload: { prompt: "again" }, tokens: s });
    expect(inv.status).toBe(200);
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it("maps refusals to InvokeError with the exception name", async () => {
    const { s } = store();
    const e = await invoke({ gatewayUrl: base, arn: "arn:other", sessionId: newSessionId(), payload: {}, tokens: s }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvokeError);
    expect((e as InvokeError).status).toBe(404);
    expect((e as InvokeError).type).toBe("ResourceNotFoundException");
    expect((e as InvokeError).message).toBe("no such runtime");
    // A refresh that yields a token the gateway refuses too: the second 401 is the answer (no loop).
    const stale = new TokenStore({ refresh: async () => ({ AccessToken: "stale-2", RefreshToken: "r", ExpiresIn: 3600 }) });
    stale.set({ AccessToken: "stale-1", RefreshToken: "r", ExpiresIn: 3600 });
    const e2 = await invoke({ gatewayUrl: base, arn: ARN, sessionId: newSessionId(), payload: { prompt: "x" }, tokens: stale }).catch((x: unknown) => x);
    expect((e2 as InvokeError).status).toBe(401);
    expect((e2 as InvokeError).message).toBe("token expired");
    expect(stale.refreshCount).toBe(1);
  });
});

describe("connect over WebSocket", () => {
  it("authenticates with the subprotocol pair, carries the session id, and reauths in band after a refresh", async () => {
    const { s } = store();
    const sessionId = newSessionId();
    const messages: string[] = [];
    const reauths: boolean[] = [];
    const sock = await connect({
      gatewayUrl: base,
      arn: ARN,
      sessionId,
      tokens: s,
      WebSocketImpl: WebSocket as unknown as WebSocketCtor,
      onMessage: (d) => messages.push(typeof d === "string" ? d : `(${d.byteLength} bytes)`),
      onReauth: (ok) => reauths.push(ok),
    });
    expect(sock.protocol).toBe(SUBPROTOCOL);
    const seen = wsSeen.at(-1)!;
    expect(seen.protocols).toEqual(subprotocols(s.current!.accessToken));
    expect(seen.url).toBe(`/runtimes/${encodeURIComponent(ARN)}/ws?qualifier=DEFAULT&${SESSION_HEADER}=${sessionId}`);
    sock.send({ prompt: "hi" });
    await vi.waitFor(() => expect(messages).toHaveLength(1));
    expect(JSON.parse(messages[0]!)).toEqual({ type: "reply", text: "You said: hi" });
    const fresh = await s.refreshNow();
    await vi.waitFor(() => expect(reauths).toEqual([true]));
    expect(sock.reauthCount).toBe(1);
    expect(JSON.parse(seen.messages.at(-1)!)).toEqual({ type: "gatehouse.reauth", token: fresh.accessToken });
    // The gateway's reauth answers are not passed to the app.
    expect(messages).toHaveLength(1);
    s.clear(); // sign-out closes the socket
    expect(sock.closed).toBe(true);
  });

  it("a refused handshake gets one refresh and one more try", async () => {
    const { s, refresh } = store();
    valid.delete(s.current!.accessToken);
    const sock = await connect({ gatewayUrl: base, arn: ARN, sessionId: newSessionId(), tokens: s, WebSocketImpl: WebSocket as unknown as WebSocketCtor });
    expect(refresh).toHaveBeenCalledTimes(1);
    sock.close();
    const noRefresh = new TokenStore({ refresh: async () => { throw new Error("offline"); } });
    noRefresh.set({ AccessToken: "nope", ExpiresIn: 3600 });
    await expect(connect({ gatewayUrl: base, arn: ARN, sessionId: newSessionId(), tokens: noRefresh, WebSocketImpl: WebSocket as unknown as WebSocketCtor })).rejects.toThrow(/refused/);
  });
});
