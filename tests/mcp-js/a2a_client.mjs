// Drives the official A2A JavaScript SDK's client (DefaultAgentCardResolver, ClientFactory, the JSON-RPC
// transport) against an A2A agent directly or through a gatehouse runtime. Reads one JSON object on stdin:
// {"card_url" (the agent card's full URL), "url" (where to send JSON-RPC, replacing the card's own address when
// given), "token" (bearer token or null, added to every request by a custom fetch), "headers" {extra request
// headers}, "legacy": true (speak A2A v0.3 — message/send, message/stream — instead of v1.0), "steps":
// [{"send": text} | {"stream": text} | {"get_task": id}]} and prints ONE JSON report: the card (name, url, skills, protocol
// versions), per step the task/context ids, state and artifact texts (and for a stream every event in order),
// and every HTTP exchange ({method, url, status}). Expected refusals are data: {"refused": {"status", "body",
// "www_authenticate"}} (for the card at the top level, else per step) and {"rpc_error": {"code", "name", "message"}} per
// step; {"error"} only when the driver itself broke. Never prints a token.
import { taskStateToJSON } from "@a2a-js/sdk";
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from "@a2a-js/sdk/client";
import { Role } from "@a2a-js/sdk";

const input = JSON.parse(await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
}));
const report = { http: [], steps: [] };
let lastRefusal;

/** fetch with the bearer token and extra headers, recording every exchange and the last refusal's body. */
async function authFetch(url, init = {}) {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(input.headers ?? {})) headers.set(k, v);
  if (input.token) headers.set("authorization", `Bearer ${input.token}`);
  const res = await fetch(url, { ...init, headers });
  report.http.push({ method: init.method ?? "GET", url: String(url), status: res.status });
  if (!res.ok) {
    lastRefusal = {
      status: res.status,
      body: await res.clone().text().catch(() => ""),
      www_authenticate: res.headers.get("www-authenticate"),
    };
  }
  return res;
}

const texts = (parts) => (parts ?? []).filter((p) => p.content?.$case === "text").map((p) => p.content.value);
const stateOf = (status) => (status ? taskStateToJSON(status.state) : null);

function message(text) {
  return {
    tenant: "",
    metadata: {},
    message: {
      messageId: crypto.randomUUID(),
      role: Role.ROLE_USER,
      parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }],
      taskId: "",
      contextId: "",
      extensions: [],
      metadata: {},
      referenceTaskIds: [],
    },
    configuration: undefined,
  };
}

/** A Task or Message result, summarised. */
function summary(r) {
  if (r && "status" in r && "artifacts" in r) {
    return { kind: "task", task_id: r.id, context_id: r.contextId, state: stateOf(r.status), artifacts: r.artifacts.flatMap((a) => texts(a.parts)) };
  }
  return { kind: "message", task_id: r?.taskId || null, context_id: r?.contextId || null, texts: texts(r?.parts) };
}

function event(e) {
  const p = e.payload;
  switch (p?.$case) {
    case "task":
      return { kind: "task", task_id: p.value.id, context_id: p.value.contextId, state: stateOf(p.value.status) };
    case "statusUpdate":
      return { kind: "status-update", task_id: p.value.taskId, context_id: p.value.contextId, state: stateOf(p.value.status), texts: texts(p.value.status?.message?.parts) };
    case "artifactUpdate":
      return { kind: "artifact-update", task_id: p.value.taskId, context_id: p.value.contextId, texts: texts(p.value.artifact?.parts) };
    case "message":
      return { kind: "message", task_id: p.value.taskId || null, context_id: p.value.contextId || null, texts: texts(p.value.parts) };
    default:
      return { kind: "unknown" };
  }
}

/** A refusal or JSON-RPC error as data, or undefined when `e` is neither. */
function asData(e) {
  if (lastRefusal) return { refused: lastRefusal };
  const code = e?.envelopeCode ?? e?.code;
  if (typeof code === "number") return { rpc_error: { code, name: String(e.name), message: String(e.message) } };
  return undefined;
}

async function runStep(client, step) {
  lastRefusal = undefined;
  try {
    if (step.stream !== undefined) {
      const events = [];
      for await (const e of client.sendMessageStream(message(step.stream))) events.push(event(e));
      const last = events.at(-1);
      return { stream: step.stream, events, task_id: events[0]?.task_id ?? null, context_id: events[0]?.context_id ?? null, final_state: last?.state ?? null };
    }
    if (step.get_task !== undefined) {
      return { get_task: step.get_task, ...summary(await client.getTask({ tenant: "", id: step.get_task, historyLength: undefined })) };
    }
    return { send: step.send, ...summary(await client.sendMessage(message(step.send))) };
  } catch (e) {
    const data = asData(e);
    if (!data) throw e;
    const { stream, send, get_task } = step;
    return { stream, send, get_task, ...data };
  }
}

try {
  const legacy = { enabled: true };
  const resolver = new DefaultAgentCardResolver({ fetchImpl: authFetch, legacyCompat: legacy });
  let card;
  try {
    card = await resolver.resolve(input.card_url, "");
  } catch (e) {
    if (!lastRefusal) throw e;
    report.refused = lastRefusal;
  }
  if (card) {
    const wanted = input.legacy ? "0.3" : "1.0";
    report.card = {
      name: card.name,
      url: card.supportedInterfaces.find((i) => i.protocolVersion === wanted)?.url ?? null,
      skills: card.skills.map((s) => s.id),
      protocol_versions: card.supportedInterfaces.map((i) => i.protocolVersion),
      streaming: card.capabilities?.streaming === true,
    };
    const interfaces = card.supportedInterfaces
      .filter((i) => i.protocolBinding === "JSONRPC" && i.protocolVersion === wanted)
      .map((i) => ({ ...i, url: input.url ?? i.url }));
    const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl: authFetch, legacyCompat: legacy })],
    }));
    const client = await factory.createFromAgentCard({ ...card, supportedInterfaces: interfaces });
    report.protocol_version = client.protocolVersion ?? null;
    for (const step of input.steps ?? []) report.steps.push(await runStep(client, step));
  }
} catch (e) {
  report.error = { message: String(e?.message ?? e), stack: String(e?.stack ?? "") };
}
console.log(JSON.stringify(report));
process.exit(0);
