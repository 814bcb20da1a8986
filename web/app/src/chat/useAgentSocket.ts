// The WebSocket transport of the chat view: opens one socket per (runtime, session) on first use, keeps it open
// between prompts, counts the in-band reauths the gateway accepted, and closes it when the session, runtime or
// transport changes or the view goes away. Replies and closes are handed to the caller's callbacks; the token
// itself is the client library's business (connect() sends it and every refresh).
import { useCallback, useEffect, useRef, useState } from "react";
import { CLOSE_UNAUTHORIZED, connect, type AgentSocket, type TokenStore } from "@gatehouse/client";

export interface SocketTarget {
  gatewayUrl: string;
  arn: string;
  sessionId: string;
  tokens: TokenStore;
  /** Whether the socket transport is selected; switching away closes the socket. */
  active: boolean;
}

export interface SocketEvents {
  onReply: (text: string, turn: number | undefined) => void;
  /** The socket ended (for any reason); `error` is set when the user should be told why. */
  onEnded: (error?: string) => void;
  onError: (message: string) => void;
}

/** The agent's text reply: the reference agent sends `{"text": …, "turn": …}`, anything else is shown as is. */
export function replyText(data: string | ArrayBuffer): { text: string; turn?: number } {
  if (typeof data !== "string") return { text: `(${data.byteLength} bytes)` };
  try {
    const v = JSON.parse(data) as { text?: unknown; turn?: unknown };
    return {
      text: typeof v.text === "string" ? v.text : data,
      ...(typeof v.turn === "number" ? { turn: v.turn } : {}),
    };
  } catch {
    return { text: data };
  }
}

export function useAgentSocket(target: SocketTarget, events: SocketEvents) {
  const socket = useRef<AgentSocket | null>(null);
  const [state, setState] = useState("closed");
  const [reauths, setReauths] = useState(0);
  const handlers = useRef(events);
  useEffect(() => {
    handlers.current = events;
  });

  const close = useCallback(() => {
    socket.current?.close(1000, "bye");
    socket.current = null;
    setState("closed");
  }, []);

  // A different session, runtime or transport closes the socket; the next prompt opens a new one.
  useEffect(() => close, [target.sessionId, target.arn, target.active, close]);

  const open = async (): Promise<AgentSocket> => {
    if (socket.current && !socket.current.closed) return socket.current;
    setState("connecting");
    const s = await connect({
      gatewayUrl: target.gatewayUrl,
      arn: target.arn,
      sessionId: target.sessionId,
      tokens: target.tokens,
      onMessage: (data) => {
        const r = replyText(data);
        handlers.current.onReply(r.text, r.turn);
      },
      onClose: (code, reason) => {
        setState(`closed (${code}${reason ? `: ${reason}` : ""})`);
        handlers.current.onEnded(
          code === CLOSE_UNAUTHORIZED ? `The gateway closed the socket: ${reason || "token expired"}` : undefined,
        );
      },
      onReauth: (ok, detail) => {
        if (ok) setReauths((n) => n + 1);
        else handlers.current.onError(`The gateway refused the fresh token: ${detail}`);
      },
    });
    socket.current = s;
    setState("open");
    return s;
  };

  return { open, close, state, setState, reauths };
}
