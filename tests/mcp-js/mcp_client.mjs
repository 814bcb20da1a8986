// Drives the official MCP TypeScript SDK's Client over StreamableHTTPClientTransport against a URL (an MCP server
// directly, or a gatehouse runtime's …/invocations?qualifier=DEFAULT). Reads one JSON object on stdin:
// {"url", "token" (bearer token or null), "headers" {extra request headers}, "session_id" (resume a session the
// server issued before), "steps": [{"call": tool, "args": {…},
// "progress": true} | {"request": method, "params": {…}} | {"ping": true}], "expect_get_stream": true (wait up to 5 s for the server's message on the GET
// stream), "terminate": true (DELETE the session at the end)} and prints ONE JSON report: server info, protocol
// version, tool names, per-step results, progress notifications, the session id the transport saw, whether the GET
// stream carried a message, every HTTP exchange ({method, status, type: the content type}), and the DELETE's status. Expected refusals are
// data: {"refused": {"status", "body", "www_authenticate"}} for an HTTP refusal (at connect, or per call) and
// {"rpc_error": {"code", "message"}} per call; {"error"} only when the driver itself broke. Never prints a token.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema, McpError } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod/v4";

const input = JSON.parse(await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
}));
const report = { http: [], calls: [], progress: [], notifications: [] };
let lastRefusal;

/** fetch, recording every exchange and the body of the last refusal. */
async function recordingFetch(url, init) {
  const res = await fetch(url, init);
  const type = res.headers.get("content-type")?.split(";")[0] ?? null;
  report.http.push({ method: init?.method ?? "GET", status: res.status, type });
  if (!res.ok && res.status !== 405) {
    lastRefusal = {
      status: res.status,
      body: await res.clone().text().catch(() => ""),
      www_authenticate: res.headers.get("www-authenticate"),
    };
  }
  return res;
}

/** An HTTP refusal as data when `e` came from one, else undefined. */
function refusal(e) {
  if (e instanceof StreamableHTTPError || (lastRefusal && /HTTP|POSTing|SSE/.test(String(e?.message)))) {
    return lastRefusal ?? { status: e.code ?? null, body: e.message, www_authenticate: null };
  }
  return undefined;
}

const textOf = (result) => (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("");
const jsonOr = (s) => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

async function runStep(client, step) {
  if (step.ping) {
    await client.ping();
    return { ping: true };
  }
  const entry = step.request ? { request: step.request } : { call: step.call };
  const progress = [];
  const options = step.progress ? { onprogress: (p) => progress.push(p) } : undefined;
  try {
    lastRefusal = undefined;
    if (step.request) {
      const req = { method: step.request, params: step.params ?? {} };
      entry.result = await client.request(req, z.looseObject({}), options);
    } else {
      const result = await client.callTool({ name: step.call, arguments: step.args ?? {} }, undefined, options);
      const t = textOf(result);
      Object.assign(entry, { text: t, json: jsonOr(t), is_error: result.isError === true });
    }
  } catch (e) {
    const refused = refusal(e);
    if (refused) entry.refused = refused;
    else if (e instanceof McpError) entry.rpc_error = { code: e.code, message: e.message };
    else throw e;
  }
  if (step.progress) {
    entry.progress = progress;
    report.progress.push(...progress);
  }
  return entry;
}

async function waitFor(pred, ms) {
  const deadline = Date.now() + ms;
  while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return pred();
}

try {
  const headers = { ...(input.headers ?? {}) };
  if (input.token) headers.authorization = `Bearer ${input.token}`;
  const transport = new StreamableHTTPClientTransport(new URL(input.url), {
    requestInit: { headers },
    fetch: recordingFetch,
    sessionId: input.session_id ?? undefined,
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
  });
  const client = new Client({ name: "gatehouse-test-client", version: "1.0.0" });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => report.notifications.push(n.params));
  try {
    // With a session id to resume, connect skips initialize: the first refusal may come with tools/list.
    await client.connect(transport);
    report.server = client.getServerVersion() ?? null;
    report.protocol_version = transport.protocolVersion ?? null;
    report.session_id = transport.sessionId ?? null;
    report.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  } catch (e) {
    const refused = refusal(e);
    if (!refused) throw e;
    report.refused = refused;
  }
  if (!report.refused) {
    for (const step of input.steps ?? []) report.calls.push(await runStep(client, step));
    if (input.expect_get_stream) {
      await waitFor(() => report.notifications.some((n) => n.data === "get-stream-open"), 5000);
    }
    report.get_stream_message = report.notifications.some((n) => n.data === "get-stream-open");
    if (input.terminate) {
      const before = report.http.length;
      await transport.terminateSession();
      report.terminated = { status: report.http.slice(before).find((x) => x.method === "DELETE")?.status ?? null };
      report.session_id_after = transport.sessionId ?? null;
    }
    await client.close();
  }
} catch (e) {
  report.error = { message: String(e?.message ?? e), stack: String(e?.stack ?? "") };
}
console.log(JSON.stringify(report));
process.exit(0);
