// A real A2A agent built with the official A2A JavaScript SDK's server pieces (DefaultRequestHandler, the Express
// JSON-RPC handler and agent-card handler) for the gateway tests: the agent behind gatehouse. Listens on
// 127.0.0.1:$PORT (0 when unset; a gatehouse `command` runtime gives PORT), JSON-RPC at `/` — A2A v1.0
// (SendMessage, SendStreamingMessage) and, through the SDK's compatibility layer, v0.3 (message/send,
// message/stream) — the agent card at /.well-known/agent-card.json naming this server's own address, GET /ping
// {"status":"Healthy"}; prints one line {"listening": "http://127.0.0.1:PORT"} when ready. Every message runs one
// task: submitted, a `working` status update, an artifact whose text is the JSON {"text": what the user said,
// "headers": the identity headers received, authorization reduced to its scheme}, then `completed`. Never
// prints a token.
import http from "node:http";
import express from "express";
import { AGENT_CARD_PATH, A2A_PROTOCOL_VERSION, Role, TaskState } from "@a2a-js/sdk";
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, UserBuilder } from "@a2a-js/sdk/server/express";
import { duplicateInterfacesForLegacy } from "@a2a-js/sdk/compat/v0_3";

const PORT = Number(process.env.PORT ?? 0);
const HEADERS = ["x-amzn-bedrock-agentcore-runtime-user-id", "x-amzn-bedrock-agentcore-runtime-session-id"];

function whoami(headers) {
  const get = (name) => {
    const v = headers?.[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
  };
  const out = Object.fromEntries(HEADERS.map((h) => [h, get(h)]));
  const auth = get("authorization");
  out.authorization = auth === null ? null : auth.split(" ")[0];
  return out;
}

const textPart = (value) => ({ content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "text/plain" });
const now = () => new Date().toISOString();
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

class WhoamiExecutor {
  async cancelTask() {}

  async execute(ctx, bus) {
    const { taskId, contextId } = ctx;
    const said = ctx.userMessage.parts.find((p) => p.content?.$case === "text")?.content.value ?? "";
    const headers = whoami(ctx.context.state.get("headers"));
    bus.publish(AgentEvent.task(ctx.task ?? {
      id: taskId,
      contextId,
      status: { state: TaskState.TASK_STATE_SUBMITTED, timestamp: now(), message: undefined },
      artifacts: [],
      history: [ctx.userMessage],
      metadata: {},
    }));
    const status = (state, message) => AgentEvent.statusUpdate({ taskId, contextId, status: { state, timestamp: now(), message }, metadata: {} });
    bus.publish(status(TaskState.TASK_STATE_WORKING, {
      role: Role.ROLE_AGENT, messageId: crypto.randomUUID(), parts: [textPart("working")], taskId, contextId,
      extensions: [], metadata: {}, referenceTaskIds: [],
    }));
    await pause(20);
    bus.publish(AgentEvent.artifactUpdate({
      taskId,
      contextId,
      artifact: { artifactId: crypto.randomUUID(), name: "whoami", description: "", parts: [textPart(JSON.stringify({ text: said, headers }))], metadata: undefined, extensions: [] },
      lastChunk: true,
      append: false,
      metadata: undefined,
    }));
    bus.publish(status(TaskState.TASK_STATE_COMPLETED, undefined));
  }
}

function card(base) {
  return {
    name: "gatehouse-test-a2a",
    description: "An A2A agent for gatehouse's gateway tests",
    supportedInterfaces: duplicateInterfacesForLegacy(
      [{ url: `${base}/`, protocolBinding: "JSONRPC", tenant: "", protocolVersion: A2A_PROTOCOL_VERSION }],
      ["JSONRPC"],
    ),
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text"],
    defaultOutputModes: ["text"],
    skills: [
      { id: "whoami", name: "whoami", description: "Says which identity headers reached the agent", tags: ["test"], examples: ["who am I"], inputModes: ["text"], outputModes: ["text"], securityRequirements: [] },
      { id: "echo", name: "echo", description: "Repeats what the user said", tags: ["test"], examples: ["hello"], inputModes: ["text"], outputModes: ["text"], securityRequirements: [] },
    ],
    documentationUrl: "",
    signatures: [],
  };
}

const app = express();
const server = http.createServer(app);
server.on("error", (e) => {
  console.error("a2a_server: cannot listen:", e.message);
  process.exit(1);
});
server.listen(PORT, "127.0.0.1", () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const handler = new DefaultRequestHandler(card(base), new InMemoryTaskStore(), new WhoamiExecutor());
  app.get("/ping", (_req, res) => res.json({ status: "Healthy" }));
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler, legacyCompat: { enabled: true } }));
  app.use("/", jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication, legacyCompat: { enabled: true } }));
  console.log(JSON.stringify({ listening: base }));
});
process.on("SIGTERM", () => process.exit(0));
// Never outlive the process that started this one (a test, or the sandbox's launcher).
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 500).unref();
