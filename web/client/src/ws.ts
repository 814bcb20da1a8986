// InvokeAgentRuntimeWithWebSocketStream as a browser does it: GET {gateway}/runtimes/{ARN}/ws with the token in
// the subprotocol pair `base64UrlBearerAuthorization.<base64url(token)>, base64UrlBearerAuthorization` (browsers
// cannot set headers on a WebSocket) and the session id as a query parameter. When the token store refreshes,
// the fresh token is sent in band as {"type":"gatehouse.reauth","token":…}, so the socket outlives the first
// token; the gateway's answers (gatehouse.reauth.ok / .error) are consumed here, not passed to the app.
import { SESSION_HEADER, type RuntimeTarget } from "./invoke.ts";
import { base64Url } from "./session.ts";
import type { TokenStore } from "./tokens.ts";

export const SUBPROTOCOL = "base64UrlBearerAuthorization";
export const REAUTH = "gatehouse.reauth";
/** The gateway's answers to an in-band reauth. */
export const REAUTH_OK = "gatehouse.reauth.ok";
export const REAUTH_ERROR = "gatehouse.reauth.error";
/** The close code the gateway uses when the token expires or is revoked. */
export const CLOSE_UNAUTHORIZED = 4401;

/** The part of the browser's WebSocket this module uses (the `ws` package's client fits too). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export function wsUrl(t: RuntimeTarget, sessionId: string): string {
  const base = t.gatewayUrl.replace(/\/+$/, "").replace(/^http/, "ws");
  const q = new URLSearchParams({ qualifier: t.qualifier ?? "DEFAULT", [SESSION_HEADER]: sessionId });
  return `${base}/runtimes/${encodeURIComponent(t.arn)}/ws?${q.toString()}`;
}

/** The subprotocol pair that carries `token`. */
export function subprotocols(token: string): [string, string] {
  return [`${SUBPROTOCOL}.${base64Url(new TextEncoder().encode(token))}`, SUBPROTOCOL];
}

export interface ConnectOptions extends RuntimeTarget {
  sessionId: string;
  tokens: TokenStore;
  /** Each message from the agent (text as string, binary as ArrayBuffer). */
  onMessage?: (data: string | ArrayBuffer) => void;
  /** The socket closed (4401: token expired or revoked). */
  onClose?: (code: number, reason: string) => void;
  /** The gateway answered an in-band reauth. */
  onReauth?: (ok: boolean, detail: string) => void;
  WebSocketImpl?: WebSocketCtor;
}

/** An open WebSocket to an agent. */
export class AgentSocket {
  private readonly ws: WebSocketLike;
  private readonly unsubscribe: () => void;
  /** In-band reauths the gateway accepted. */
  reauthCount = 0;
  closed = false;

  constructor(ws: WebSocketLike, o: ConnectOptions) {
    this.ws = ws;
    ws.onmessage = (ev) => {
      const data = ev.data;
      if (typeof data === "string" && data.includes(REAUTH)) {
        try {
          const v = JSON.parse(data) as { type?: string; message?: string; expires_at?: number };
          if (v.type === REAUTH_OK || v.type === REAUTH_ERROR) {
            const ok = v.type === REAUTH_OK;
            if (ok) this.reauthCount++;
            o.onReauth?.(ok, ok ? `expires_at ${v.expires_at ?? "?"}` : (v.message ?? "refused"));
            return;
          }
        } catch {
          // not ours: pass it on
        }
      }
      o.onMessage?.(data as string | ArrayBuffer);
    };
    ws.onclose = (ev) => {
      this.closed = true;
      this.unsubscribe();
      o.onClose?.(ev.code, ev.reason);
    };
    this.unsubscribe = o.tokens.subscribe((t, why) => {
      if (why === "signout" || !t) {
        this.close(1000, "signed out");
      } else if ((why === "refresh" || why === "sync") && !this.closed && ws.readyState === 1) {
        ws.send(JSON.stringify({ type: REAUTH, token: t.accessToken }));
      }
    });
  }

  /** Sends text, or an object as JSON, or binary. */
  send(data: string | object | ArrayBuffer): void {
    if (typeof data === "string" || data instanceof ArrayBuffer) this.ws.send(data);
    else this.ws.send(JSON.stringify(data));
  }

  /** The subprotocol the gateway chose (always `base64UrlBearerAuthorization`: the token is never echoed). */
  get protocol(): string {
    return this.ws.protocol;
  }

  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.ws.close(code, reason);
  }
}

function open(url: string, token: string, Impl: WebSocketCtor): Promise<WebSocketLike> {
  return new Promise((resolve, reject) => {
    const ws = new Impl(url, subprotocols(token));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      ws.onopen = ws.onclose = ws.onerror = null;
      resolve(ws);
    };
    ws.onerror = () => undefined;
    ws.onclose = (ev) => {
      ws.onopen = ws.onclose = ws.onerror = null;
      reject(new Error(`the gateway refused the WebSocket (close ${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`));
    };
  });
}

/**
 * Opens a WebSocket to the runtime. A browser cannot see why a handshake was refused, so a refusal gets one
 * silent token refresh and one more attempt (the WebSocket form of "refresh once on a 401").
 */
export async function connect(o: ConnectOptions): Promise<AgentSocket> {
  const Impl = o.WebSocketImpl ?? (globalThis.WebSocket as unknown as WebSocketCtor);
  const url = wsUrl(o, o.sessionId);
  let ws: WebSocketLike;
  try {
    ws = await open(url, await o.tokens.accessToken(), Impl);
  } catch (e) {
    if (!o.tokens.current?.refreshToken) throw e;
    const fresh = await o.tokens.refreshNow();
    ws = await open(url, fresh.accessToken, Impl);
  }
  return new AgentSocket(ws, o);
}
