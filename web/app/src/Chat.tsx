// The chat view: prompts go to the selected runtime over SSE (the reply streams in word by word) or over a
// WebSocket (kept open, reauthenticated in band when the token store refreshes). A new conversation is a new
// session id. The header shows who is signed in, when the access token expires and how often it was refreshed.
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import {
  CLOSE_UNAUTHORIZED,
  InvokeError,
  SignedOut,
  connect,
  decodeClaims,
  invoke,
  newSessionId,
  type AgentSocket,
  type AppConfig,
  type TokenStore,
  type UserPool,
} from "@gatehouse/client";

type Transport = "sse" | "ws";

interface Message {
  id: number;
  role: "user" | "agent" | "system";
  text: string;
  streaming?: boolean;
  turn?: number;
}

const SESSION_KEY = "gatehouse.session";

function fmt(ms: number): string {
  if (ms <= 0) return "expired";
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function TokenIndicator({ tokens }: { tokens: TokenStore }) {
  const [now, setNow] = useState(Date.now());
  const [, force] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    const off = tokens.subscribe(() => force((n) => n + 1));
    return () => {
      clearInterval(t);
      off();
    };
  }, [tokens]);
  const t = tokens.current;
  if (!t) return null;
  const usableFor = t.expiresAt - 60_000 - now;
  const state = usableFor > 0 ? (now >= tokens.refreshAt(t) ? "refreshing" : "valid") : "gone";
  return (
    <div className={`token token-${state}`} data-testid="token-indicator" data-state={state}>
      Access token expires in <strong data-testid="token-expiry">{fmt(t.expiresAt - now)}</strong>
      {" · "}refreshed <span data-testid="refresh-count">{tokens.refreshCount}</span>×
    </div>
  );
}

export function Chat({ config, pool, tokens }: { config: AppConfig; pool: UserPool; tokens: TokenStore }) {
  const [runtimeArn, setRuntimeArn] = useState(config.runtimes[0]?.arn ?? "");
  const [transport, setTransport] = useState<Transport>("sse");
  const [sessionId, setSessionId] = useState(() => sessionStorage.getItem(SESSION_KEY) ?? newSessionId());
  const [messages, setMessages] = useState<Message[]>([]);
  const [prompt, setPrompt] = useState("");
  const [delayMs, setDelayMs] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [wsState, setWsState] = useState("closed");
  const [reauths, setReauths] = useState(0);
  const socket = useRef<AgentSocket | null>(null);
  const nextId = useRef(1);
  const username = String(decodeClaims(tokens.current?.accessToken ?? "")["username"] ?? tokens.current?.username ?? "");

  useEffect(() => sessionStorage.setItem(SESSION_KEY, sessionId), [sessionId]);

  const add = useCallback((m: Omit<Message, "id">) => {
    const id = nextId.current++;
    setMessages((ms) => [...ms, { ...m, id }]);
    return id;
  }, []);
  const update = useCallback((id: number, f: (m: Message) => Message) => {
    setMessages((ms) => ms.map((m) => (m.id === id ? f(m) : m)));
  }, []);

  const closeSocket = useCallback(() => {
    socket.current?.close(1000, "bye");
    socket.current = null;
    setWsState("closed");
  }, []);

  // A different session, runtime or transport closes the socket; the next prompt opens a new one.
  useEffect(() => closeSocket, [sessionId, runtimeArn, transport, closeSocket]);

  const openSocket = async (): Promise<AgentSocket> => {
    if (socket.current && !socket.current.closed) return socket.current;
    setWsState("connecting");
    const s = await connect({
      gatewayUrl: config.gatewayUrl,
      arn: runtimeArn,
      sessionId,
      tokens,
      onMessage: (data) => {
        let text = typeof data === "string" ? data : `(${data.byteLength} bytes)`;
        let turn: number | undefined;
        try {
          const v = JSON.parse(text) as { text?: string; turn?: number };
          if (typeof v.text === "string") text = v.text;
          turn = v.turn;
        } catch {
          // plain text
        }
        add({ role: "agent", text, ...(turn !== undefined ? { turn } : {}) });
        setBusy(false);
      },
      onClose: (code, reason) => {
        setWsState(`closed (${code}${reason ? `: ${reason}` : ""})`);
        setBusy(false);
        if (code === CLOSE_UNAUTHORIZED) setError(`The gateway closed the socket: ${reason || "token expired"}`);
      },
      onReauth: (ok, detail) => {
        if (ok) setReauths((n) => n + 1);
        else setError(`The gateway refused the fresh token: ${detail}`);
      },
    });
    socket.current = s;
    setWsState("open");
    return s;
  };

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
        (await openSocket()).send(payload);
        return; // busy ends when the reply arrives
      }
      const inv = await invoke({ gatewayUrl: config.gatewayUrl, arn: runtimeArn, sessionId, payload, tokens });
      const id = add({ role: "agent", text: "", streaming: true });
      for await (const ev of inv.events) {
        let v: { type?: string; text?: string; turn?: number; error?: string; message?: string };
        try {
          v = JSON.parse(ev.data) as typeof v;
        } catch {
          v = { type: "text", text: ev.data };
        }
        if (ev.event === "error" || v.error) {
          setError(`The agent failed: ${v.message ?? v.error ?? ev.data}`);
        } else if (v.type === "whoami") {
          update(id, (m) => ({ ...m, ...(v.turn !== undefined ? { turn: v.turn } : {}) }));
        } else if (v.type === "text" && typeof v.text === "string") {
          const word = v.text;
          update(id, (m) => ({ ...m, text: m.text ? `${m.text} ${word}` : word }));
        } else if (v.type !== "done" && typeof v.text === "string") {
          const t = v.text;
          update(id, (m) => ({ ...m, text: m.text + t }));
        }
      }
      update(id, (m) => ({ ...m, streaming: false }));
      setBusy(false);
    } catch (err) {
      setBusy(false);
      if (err instanceof SignedOut) return; // the store is cleared: the app shows sign-in
      if (err instanceof InvokeError) setError(`${err.status} ${err.type}: ${err.message}`);
      else setError(err instanceof Error ? err.message : String(err));
      if (transport === "ws") setWsState("closed");
    }
  };

  const signOut = async () => {
    closeSocket();
    const rt = tokens.current?.refreshToken;
    sessionStorage.removeItem(SESSION_KEY);
    try {
      if (rt) await pool.revoke(rt);
    } catch {
      // Signed out locally all the same; the token expires on its own.
    }
    tokens.clear();
  };

  const newConversation = () => {
    setMessages([]);
    setError("");
    setSessionId(newSessionId());
  };

  return (
    <main className="chat">
      <header>
        <h1>gatehouse</h1>
        <span className="who" data-testid="username">
          {username}
        </span>
        <TokenIndicator tokens={tokens} />
        <button type="button" data-testid="signout" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <section className="controls">
        {config.runtimes.length > 1 && (
          <label>
            Runtime
            <select value={runtimeArn} onChange={(e) => setRuntimeArn(e.target.value)}>
              {config.runtimes.map((r) => (
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
              {wsState} · reauth <span data-testid="reauth-count">{reauths}</span>×
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
    </main>
  );
}
