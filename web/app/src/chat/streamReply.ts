// The SSE transport of the chat view: one invocation, its events folded into one streaming agent message —
// `whoami` gives the turn, `text` events append a word, an `error` event (the gateway's or the agent's) becomes
// the error line. Resolves when the stream ends; a refused invocation rejects with the client library's error.
import { invoke, type TokenStore } from "@gatehouse/client";
import type { Message } from "./useMessages.ts";

export interface StreamTarget {
  gatewayUrl: string;
  arn: string;
  sessionId: string;
  tokens: TokenStore;
}

export interface StreamSink {
  add: (m: Omit<Message, "id">) => number;
  update: (id: number, f: (m: Message) => Message) => void;
  onError: (message: string) => void;
}

interface AgentEvent {
  type?: string;
  text?: string;
  turn?: number;
  error?: string;
  message?: string;
}

function parse(data: string): AgentEvent {
  try {
    return JSON.parse(data) as AgentEvent;
  } catch {
    return { type: "text", text: data };
  }
}

export async function streamReply(t: StreamTarget, payload: Record<string, unknown>, sink: StreamSink): Promise<void> {
  const inv = await invoke({ gatewayUrl: t.gatewayUrl, arn: t.arn, sessionId: t.sessionId, payload, tokens: t.tokens });
  const id = sink.add({ role: "agent", text: "", streaming: true });
  for await (const ev of inv.events) {
    const v = parse(ev.data);
    if (ev.event === "error" || v.error) {
      sink.onError(`The agent failed: ${v.message ?? v.error ?? ev.data}`);
    } else if (v.type === "whoami") {
      const turn = v.turn;
      sink.update(id, (m) => ({ ...m, ...(turn !== undefined ? { turn } : {}) }));
    } else if (v.type === "text" && typeof v.text === "string") {
      const word = v.text;
      sink.update(id, (m) => ({ ...m, text: m.text ? `${m.text} ${word}` : word }));
    } else if (v.type !== "done" && typeof v.text === "string") {
      const more = v.text;
      sink.update(id, (m) => ({ ...m, text: m.text + more }));
    }
  }
  sink.update(id, (m) => ({ ...m, streaming: false }));
}
