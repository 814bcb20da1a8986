import { useCallback, useMemo, useSyncExternalStore } from "react";
import { TokenStore, UserPool, type AppConfig } from "@gatehouse/client";
import { Auth } from "./Auth.tsx";
import { Chat } from "./Chat.tsx";

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

  return signedIn ? <Chat config={config} pool={pool} tokens={tokens} /> : <Auth pool={pool} tokens={tokens} />;
}
