// Wiring: one UserPool and one TokenStore per app client, the browser's return from the hosted sign-in page
// completed at start (its refusal shown on the sign-in screen), then the sign-in screens or the chat.
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { TokenStore, UserPool, completeHostedSignIn, describeError, isHostedCallback, type AppConfig } from "@gatehouse/client";
import { Auth } from "./Auth.tsx";
import { Chat } from "./Chat.tsx";

// The browser's return from the hosted sign-in page, completed once per page load (StrictMode runs effects twice).
let callback: Promise<void> | undefined;

export function App({ config }: { config: AppConfig }) {
  const pool = useMemo(
    () => new UserPool({ idpUrl: config.idpUrl, userPoolId: config.userPoolId, clientId: config.clientId }),
    [config],
  );
  // One store per client id, so switching deployments never mixes tokens.
  const tokens = useMemo(
    () =>
      new TokenStore({
        refresh: (rt) => pool.refresh(rt),
        storage: window.localStorage,
        key: `gatehouse.tokens.${config.clientId}`,
      }),
    [pool, config.clientId],
  );
  const subscribe = useCallback((onChange: () => void) => tokens.subscribe(onChange), [tokens]);
  const signedIn = useSyncExternalStore(subscribe, () => tokens.signedIn);
  const [completing, setCompleting] = useState(() => isHostedCallback(config, window.location.href));
  const [hostedError, setHostedError] = useState("");

  useEffect(() => {
    if (!completing) return;
    callback ??= completeHostedSignIn(config, window.location.href, tokens).then(() => undefined);
    callback
      .catch((e: unknown) => setHostedError(describeError(e)))
      .finally(() => setCompleting(false));
  }, [completing, config, tokens]);

  if (completing) {
    return (
      <main className="card auth">
        <h1>gatehouse</h1>
        <p className="notice" role="status" data-testid="hosted-completing">
          Signing in…
        </p>
      </main>
    );
  }
  return signedIn ? (
    <Chat config={config} pool={pool} tokens={tokens} />
  ) : (
    <Auth config={config} pool={pool} tokens={tokens} initialError={hostedError} />
  );
}
