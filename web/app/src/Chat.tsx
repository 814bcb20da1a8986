// The chat view: prompts go to the selected runtime (only "http" runtimes speak the chat's contract) over SSE (the reply streams in word by word, chat/streamReply.ts)
// or over a WebSocket (kept open, reauthenticated in band when the token store refreshes, chat/useAgentSocket.ts).
// A new conversation is a new session id. The header shows who is signed in, when the access token expires and how
// often it was refreshed (chat/TokenIndicator.tsx). When config.json names an MCP runtime, the Tools panel lists its
// tools and calls whoami (tools/ToolsPanel.tsx).
import { useEffect, useState, type FormEvent } from "react";
import { InvokeError, SignedOut, decodeClaims, hostedSignOutUrl, newSessionId, type AppConfig, type TokenStore, type UserPool } from "@gatehouse/client";
import { TokenIndicator } from "./chat/TokenIndicator.tsx";
import { streamReply } from "./chat/streamReply.ts";
import { useAgentSocket } from "./chat/useAgentSocket.ts";
import { useMessages } from "./chat/useMessages.ts";
import { ToolsPanel } from "./tools/ToolsPanel.tsx";

type Transport = "sse" | "ws";

const SESSION_KEY = "gatehouse.session";

function signedInName(tokens: TokenStore): string {
  const claimed = decodeClaims(tokens.current?.accessToken ?? "")["username"];
  return typeof claimed === "string" ? claimed : (tokens.current?.username ?? "");
}

export function Chat({ config, pool, tokens }: { config: AppConfig; pool: UserPool; tokens: TokenStore }) {
  const chatRuntimes = config.runtimes.filter((r) => r.protocol === "http");
  const mcpRuntime = config.runtimes.find((r) => r.protocol === "mcp");
  const [runtimeArn, setRuntimeArn] = useState(chatRuntimes[0]?.arn ?? "");
  const [transport, setTransport] = useState<Transport>("sse");
  const [sessionId, setSessionId] = useState(() => sessionStorage.getItem(SESSION_KEY) ?? newSessionId());
  const { messages, add, update, clear } = useMessages();
  const [prompt, setPrompt] = useState("");
  const [delayMs, setDelayMs] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const target = { gatewayUrl: config.gatewayUrl, arn: runtimeArn, sessionId, tokens };
  const ws = useAgentSocket(
    { ...target, active: transport === "ws" },
    {
      onReply: (text, turn) => {
        add({ role: "agent", text, ...(turn !== undefined ? { turn } : {}) });
        setBusy(false);
      },
      onEnded: (why) => {
        setBusy(false);
        if (why) setError(why);
      },
      onError: setError,
    },
  );

  useEffect(() => sessionStorage.setItem(SESSION_KEY, sessionId), [sessionId]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const text = prompt.trim();
    if (!text || busy) return;
    setPrompt("");
    setError("");
    setBusy(true);
    add({ role: "user", text });
    const payload: Record<string, unknown> = { prompt: text };
    if (delayMs > 0) payload["delay_ms"] = delayMs;
    try {
      if (transport === "ws") {
        (await ws.open()).send(payload);
        return; // busy ends when the reply arrives
      }
      await streamReply(target, payload, { add, update, onError: setError });
      setBusy(false);
    } catch (err) {
      setBusy(false);
      if (err instanceof SignedOut) return; // the store is cleared: the app shows sign-in
      if (err instanceof InvokeError) setError(`${err.status} ${err.type}: ${err.message}`);
      else setError(err instanceof Error ? err.message : String(err));
      if (transport === "ws") ws.setState("closed");
    }
  };

  const signOut = async () => {
    ws.close();
    const rt = tokens.current?.refreshToken;
    sessionStorage.removeItem(SESSION_KEY);
    try {
      if (rt) await pool.revoke(rt);
    } catch {
      // Signed out locally all the same; the token expires on its own.
    }
    tokens.clear();
    // After a hosted sign-in the IdP's own session ends too (its /logout sends the browser back here).
    const logout = hostedSignOutUrl(config);
    if (logout) window.location.assign(logout);
  };

  const newConversation = () => {
    clear();
    setError("");
    setSessionId(newSessionId());
  };

  return (
    <main className="chat">
      <header>
        <h1>gatehouse</h1>
        <span className="who" data-testid="username">
          {signedInName(tokens)}
        </span>
        <TokenIndicator tokens={tokens} />
        <button type="button" data-testid="signout" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <section className="controls">
        {chatRuntimes.length > 1 && (
          <label>
            Runtime
            <select data-testid="runtime" value={runtimeArn} onChange={(e) => setRuntimeArn(e.target.value)}>
              {chatRuntimes.map((r) => (
                <option key={r.arn} value={r.arn}>
                  {r.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <fieldset className="transport">
          <legend>Transport</legend>
          <label>
            <input type="radio" name="transport" data-testid="transport-sse" checked={transport === "sse"} onChange={() => setTransport("sse")} />
            HTTP + SSE
          </label>
          <label>
            <input type="radio" name="transport" data-testid="transport-ws" checked={transport === "ws"} onChange={() => setTransport("ws")} />
            WebSocket
          </label>
          {transport === "ws" && (
            <span className="ws-state" data-testid="ws-state">
              {ws.state} · reauth <span data-testid="reauth-count">{ws.reauths}</span>×
            </span>
          )}
        </fieldset>
        <label className="delay">
          Delay per word (ms)
          <input type="number" min={0} max={2000} step={50} data-testid="delay" value={delayMs} onChange={(e) => setDelayMs(Number(e.target.value) || 0)} />
        </label>
        <button type="button" data-testid="new-conversation" onClick={newConversation}>
          New conversation
        </button>
        <span className="session" title="session id" data-testid="session-id">
          {sessionId}
        </span>
      </section>
      {error && (
        <p className="error" role="alert" data-testid="chat-error">
          {error}
        </p>
      )}
      <ol className="messages" data-testid="messages">
        {messages.map((m) => (
          <li key={m.id} className={`msg msg-${m.role}`} data-role={m.role} data-streaming={m.streaming ? "true" : "false"} data-turn={m.turn ?? ""}>
            {m.text || (m.streaming ? "…" : "")}
          </li>
        ))}
      </ol>
      <form className="composer" onSubmit={(e) => void send(e)}>
        <input data-testid="prompt" value={prompt} placeholder="Say something to the agent" onChange={(e) => setPrompt(e.target.value)} />
        <button type="submit" data-testid="send" disabled={busy || !runtimeArn}>
          Send
        </button>
      </form>
      {mcpRuntime && <ToolsPanel gatewayUrl={config.gatewayUrl} runtime={mcpRuntime} tokens={tokens} />}
    </main>
  );
}
