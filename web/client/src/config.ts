// The app's settings, read at run time from the web listener's /config.json (nothing is baked into the bundle).

/** What kind of server answers at a runtime's invocations URL: AgentCore's HTTP contract, MCP or A2A. */
export type RuntimeProtocol = "http" | "mcp" | "a2a";

const PROTOCOLS: readonly RuntimeProtocol[] = ["http", "mcp", "a2a"];

export interface RuntimeInfo {
  name: string;
  arn: string;
  /** "http" when config.json does not say (a server from before runtimes had protocols). */
  protocol: RuntimeProtocol;
}

/**
 * The hosted sign-in (authorization code + PKCE at the IdP's own page), when the app's client is registered. The
 * endpoints are Cognito's fixed paths under idpUrl; config.json carries what the client registered.
 */
export interface OAuthConfig {
  /** What the callback's `iss` must be (RFC 9207). */
  issuer: string;
  /** {idpUrl}/oauth2/authorize */
  authorizeUrl: string;
  /** {idpUrl}/oauth2/token */
  tokenUrl: string;
  /** {idpUrl}/logout */
  logoutUrl: string;
  /** Where the hosted page sends the browser back: a path of this app. */
  redirectUri: string;
  /** Where the IdP's /logout sends the browser back, when the client registered it. */
  logoutUri?: string;
  scopes: string[];
}

export interface AppConfig {
  region: string;
  idpUrl: string;
  userPoolId: string;
  clientId: string;
  gatewayUrl: string;
  runtimes: RuntimeInfo[];
  /** Absent when the app's client is not registered for the hosted sign-in. */
  oauth?: OAuthConfig;
}

function str(v: Record<string, unknown>, k: string): string {
  const x = v[k];
  if (typeof x !== "string" || !x) throw new Error(`config.json: "${k}" is missing or not a string`);
  return x;
}

function url(v: Record<string, unknown>, k: string): string {
  const x = v[k];
  if (typeof x !== "string" || !x) throw new Error(`config.json: "oauth.${k}" is missing or not a string`);
  let u: URL;
  try {
    u = new URL(x);
  } catch {
    throw new Error(`config.json: "oauth.${k}" is not an absolute URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error(`config.json: "oauth.${k}" is not an http(s) URL`);
  return x;
}

function parseOAuth(v: unknown, idpUrl: string): OAuthConfig {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error('config.json: "oauth" is not an object');
  const o = v as Record<string, unknown>;
  const scopes = o["scopes"];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string" && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))) {
    throw new Error('config.json: "oauth.scopes" is not a list of scopes');
  }
  if (!scopes.includes("openid")) throw new Error('config.json: "oauth.scopes" lacks "openid"');
  const c: OAuthConfig = {
    issuer: url(o, "issuer"),
    authorizeUrl: `${idpUrl}/oauth2/authorize`,
    tokenUrl: `${idpUrl}/oauth2/token`,
    logoutUrl: `${idpUrl}/logout`,
    redirectUri: url(o, "redirect_uri"),
    scopes: scopes as string[],
  };
  if (o["logout_uri"] !== undefined) c.logoutUri = url(o, "logout_uri");
  return c;
}

function parseRuntime(r: unknown): RuntimeInfo {
  const rr = (r ?? {}) as Record<string, unknown>;
  const protocol = rr["protocol"] ?? "http";
  if (!PROTOCOLS.includes(protocol as RuntimeProtocol)) {
    throw new Error(`config.json: runtime "protocol" is not one of ${PROTOCOLS.join(", ")}`);
  }
  return { name: str(rr, "name"), arn: str(rr, "arn"), protocol: protocol as RuntimeProtocol };
}

/** Checks the JSON of /config.json. */
export function parseConfig(v: unknown): AppConfig {
  if (!v || typeof v !== "object") throw new Error("config.json is not an object");
  const o = v as Record<string, unknown>;
  const runtimes = o["runtimes"];
  if (!Array.isArray(runtimes)) throw new Error('config.json: "runtimes" is not a list');
  const c: AppConfig = {
    region: str(o, "region"),
    idpUrl: str(o, "idp_url").replace(/\/+$/, ""),
    userPoolId: str(o, "user_pool_id"),
    clientId: str(o, "client_id"),
    gatewayUrl: str(o, "gateway_url").replace(/\/+$/, ""),
    runtimes: runtimes.map(parseRuntime),
  };
  if (o["oauth"] !== undefined) c.oauth = parseOAuth(o["oauth"], c.idpUrl);
  return c;
}

/** Fetches and checks /config.json (relative to the page). */
export async function loadConfig(url = "/config.json", fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): Promise<AppConfig> {
  const r = await fetchImpl(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
  return parseConfig(await r.json());
}
