// The header's token line: when the access token expires, whether the store is about to refresh it, and how often
// it did. Re-renders every second and on every change of the token store; reads the store, never changes it.
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import type { TokenStore } from "@gatehouse/client";

function fmt(ms: number): string {
  if (ms <= 0) return "expired";
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** The wall clock, updated every `everyMs`. */
function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function TokenIndicator({ tokens }: { tokens: TokenStore }) {
  const now = useNow(1000);
  const subscribe = useCallback((onChange: () => void) => tokens.subscribe(onChange), [tokens]);
  const t = useSyncExternalStore(subscribe, () => tokens.current);
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
