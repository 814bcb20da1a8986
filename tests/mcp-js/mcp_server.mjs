// A real MCP server built with the official TypeScript SDK (McpServer + StreamableHTTPServerTransport) for the
// gateway tests: the agent behind gatehouse. Listens on 127.0.0.1:$PORT (0 when unset: any free port) at
// $MCP_PATH (default /mcp) and prints one line {"listening": "http://127.0.0.1:PORT"} when ready; also runnable as
// a gatehouse `command` runtime, which gives PORT. MCP_MODE=stateless (default, as AgentCore requires: no session
// id, a new server and transport per request; GET and DELETE answer 405) or stateful (a server-issued
// Mcp-Session-Id, the GET stream, which gets a logging notification "get-stream-open" once open, and DELETE ending
// the session). MCP_JSON=1 answers JSON instead of SSE. Tools: whoami (the request headers that matter, the
// authorization header reduced to its scheme), echo {text}, add {a, b}, progress {steps} (notifications/progress
// when the client gave a progressToken), admin_reset. GET /ping answers {"status":"Healthy"}. Never prints a token.
import { randomUUID } from "node:crypto";
import express from "express";
import * as z from "zod/v4";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";

const PORT = Number(process.env.PORT ?? 0);
const PATH = process.env.MCP_PATH ?? "/mcp";
const STATEFUL = (process.env.MCP_MODE ?? "stateless") === "stateful";
const JSON_RESPONSE = process.env.MCP_JSON === "1";

/** The request headers whoami reports; authorization only as its scheme (or null when absent). */
const WHOAMI_HEADERS = [
  "x-amzn-bedrock-agentcore-runtime-user-id",
  "x-amzn-bedrock-agentcore-runtime-session-id",
  "mcp-session-id",
  "mcp-protocol-version",
];

function whoami(headers) {
  const get = (name) => {
    const v = headers?.[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
  };
  const out = Object.fromEntries(WHOAMI_HEADERS.map((h) => [h, get(h)]));
  const auth = get("authorization");
  out.authorization = auth === null ? null : auth.split(" ")[0];
  return out;
}

const text = (s) => ({ content: [{ type: "text", text: s }] });

function newServer() {
  const server = new McpServer(
    { name: "gatehouse-test-mcp", version: "1.0.0" },
    { capabilities: { logging: {} } },
  );
  server.registerTool("whoami", { description: "The request headers this server received" }, async (extra) =>
    text(JSON.stringify(whoami(extra.requestInfo?.headers))),
  );
  server.registerTool(
    "echo",
    { description: "Echoes text", inputSchema: { text: z.string() } },
    async ({ text: t }) => text(t),
  );
  server.registerTool(
    "add",
    { description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => text(String(a + b)),
  );
  server.registerTool(
    "progress",
    { description: "Sends notifications/progress, then returns", inputSchema: { steps: z.number().int().min(0).max(100) } },
    async ({ steps }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps && token !== undefined; i++) {
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: i, total: steps, message: `step ${i}` },
        });
      }
      return text(`done ${steps}`);
    },
  );
  server.registerTool("admin_reset", { description: "A tool the tests guard with a scope" }, async () =>
    text("reset"),
  );
  return server;
}

const rpcError = (res, status, code, message) =>
  res.status(status).json({ jsonrpc: "2.0", error: { code, message }, id: null });

/** Stateless: a new server and transport for every POST; nothing to GET or DELETE. */
function statelessRoutes(app) {
  app.post(PATH, async (req, res) => {
    const server = newServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: JSON_RESPONSE,
    });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (e) {
      console.error("mcp_server:", e);
      if (!res.headersSent) rpcError(res, 500, -32603, "Internal server error");
    }
  });
  const notAllowed = (_req, res) => rpcError(res, 405, -32000, "Method not allowed.");
  app.get(PATH, notAllowed);
  app.delete(PATH, notAllowed);
}

/** Stateful: sessions by Mcp-Session-Id, each with its own server; GET opens the session's stream. */
function statefulRoutes(app) {
  const sessions = new Map();
  const known = (req, res) => {
    const id = req.headers["mcp-session-id"];
    const transport = id ? sessions.get(id) : undefined;
    if (!transport) rpcError(res, id ? 404 : 400, -32001, id ? "Session not found" : "Mcp-Session-Id required");
    return transport;
  };
  app.post(PATH, async (req, res) => {
    try {
      if (!req.headers["mcp-session-id"] && isInitializeRequest(req.body)) {
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: JSON_RESPONSE,
          onsessioninitialized: (id) => sessions.set(id, transport),
          onsessionclosed: (id) => sessions.delete(id),
        });
        transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
        await newServer().connect(transport);
        await transport.handleRequest(req, res, req.body);
        return;
      }
      const transport = known(req, res);
      if (transport) await transport.handleRequest(req, res, req.body);
    } catch (e) {
      console.error("mcp_server:", e);
      if (!res.headersSent) rpcError(res, 500, -32603, "Internal server error");
    }
  });
  app.get(PATH, async (req, res) => {
    const transport = known(req, res);
    if (!transport) return;
    const served = transport.handleRequest(req, res);
    // Once the stream's headers are out the stream is registered: prove to the client it carries messages.
    const deadline = Date.now() + 5000;
    const tell = () => {
      if (res.headersSent && res.statusCode === 200) {
        transport.send({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "get-stream-open" } });
      } else if (Date.now() < deadline && !res.writableEnded) {
        setTimeout(tell, 10);
      }
    };
    tell();
    await served;
  });
  app.delete(PATH, async (req, res) => {
    const transport = known(req, res);
    if (transport) await transport.handleRequest(req, res);
  });
}

const app = express();
app.use(express.json());
app.get("/ping", (_req, res) => res.json({ status: "Healthy" }));
if (STATEFUL) statefulRoutes(app);
else statelessRoutes(app);
const listener = app.listen(PORT, "127.0.0.1", () => {
  console.log(JSON.stringify({ listening: `http://127.0.0.1:${listener.address().port}` }));
});
listener.on("error", (e) => {
  console.error("mcp_server: cannot listen:", e.message);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
// Never outlive the process that started this one (a test, or the sandbox's launcher).
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 500).unref();
