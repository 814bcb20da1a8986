// The app's settings, read at run time from the web listener's /config.json (nothing is baked into the bundle).

export interface RuntimeInfo {
  name: string;
  arn: string;
}

export interface AppConfig {
  region: string;
  idpUrl: string;
  userPoolId: string;
  clientId: string;
  gatewayUrl: string;
  runtimes: RuntimeInfo[];
}

function str(v: Record<string, unknown>, k: string): string {
  const x = v[k];
  if (typeof x !== "string" || !x) throw new Error(`config.json: "${k}" is missing or not a string`);
  return x;
}

/** Checks the JSON of /config.json. */
export function parseConfig(v: unknown): AppConfig {
  if (!v || typeof v !== "object") throw new Error("config.json is not an object");
  const o = v as Record<string, unknown>;
  const runtimes = o["runtimes"];
  if (!Array.isArray(runtimes)) throw new Error('config.json: "runtimes" is not a list');
  return {
    region: str(o, "region"),
    idpUrl: str(o, "idp_url").replace(/\/+$/, ""),
    userPoolId: str(o, "user_pool_id"),
    clientId: str(o, "client_id"),
    gatewayUrl: str(o, "gateway_url").replace(/\/+$/, ""),
    runtimes: runtimes.map((r) => {
      const rr = (r ?? {}) as Record<string, unknown>;
      return { name: str(rr, "name"), arn: str(rr, "arn") };
    }),
  };
}

/** Fetches and checks /config.json (relative to the page). */
export async function loadConfig(url = "/config.json", fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): Promise<AppConfig> {
  const r = await fetchImpl(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
  return parseConfig(await r.json());
}
