// The official MCP TypeScript SDK's OAuth client support (an OAuthClientProvider and the SDK's own auth flow in
// StreamableHTTPClientTransport) against a gatehouse runtime, starting from nothing but its URL: the 401 →
// protected-resource metadata (RFC 9728) → authorization-server metadata (RFC 8414) → dynamic client registration
// (RFC 7591) → authorization code + PKCE with `resource` (RFC 8707) → token → tools/call whoami. The browser is
// scripted: the authorization URL is fetched, gatehouse's hosted sign-in form posted with the user's name and
// password (its hidden `request` and `csrf` fields followed, cookies kept), the consent form of a third-party
// client approved, and the code taken from the final redirect's Location (the loopback redirect URI is never
// contacted). Reads {"url", "username", "password", "scope" (the client's fallback scope; default "openid")} on
// stdin and prints ONE JSON report with every step's outcome: `unauthorized`, `resource_metadata`,
// `authorization_server`, `registration`, `authorize` (the URL's parameters), `browser` (each page's status),
// `callback`, `token` (its claims, never the token) and `mcp` (the whoami result, or {"refused"} / {"rpc_error"}),
// plus every HTTP exchange. {"error"} only when the driver itself broke.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";

const input = JSON.parse(await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
}));
const REDIRECT = "http://127.0.0.1:8976/callback";
const report = { http: [], browser: [] };
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

/** fetch for the SDK, recording each exchange and what the discovery documents said. */
async function recordingFetch(url, init) {
  const res = await fetch(url, init);
  const u = new URL(String(url));
  report.http.push({ method: init?.method ?? "GET", path: u.pathname, status: res.status });
  const body = async () => res.clone().json().catch(() => null);
  if (res.status === 401 && !report.unauthorized) {
    report.unauthorized = { status: 401, www_authenticate: res.headers.get("www-authenticate") };
  } else if (u.pathname.includes("/.well-known/oauth-protected-resource") && res.ok) {
    const d = await body();
    report.resource_metadata = { status: res.status, resource: d?.resource, authorization_servers: d?.authorization_servers, scopes_supported: d?.scopes_supported };
  } else if (/\.well-known\/(oauth-authorization-server|openid-configuration)/.test(u.pathname) && res.ok) {
    const d = await body();
    report.authorization_server = { status: res.status, issuer: d?.issuer, registration_endpoint: d?.registration_endpoint ?? null, code_challenge_methods_supported: d?.code_challenge_methods_supported };
  } else if (u.pathname.endsWith("/oauth2/register")) {
    report.registration = { status: res.status };
  } else if (u.pathname.endsWith("/oauth2/token")) {
    report.token = { status: res.status, ...(res.ok ? {} : { body: await body() }) };
  }
  return res;
}

/** The scripted browser: authorization URL → sign-in form → (consent) → the redirect's code. */
async function browse(authorizationUrl) {
  const jar = new Map();
  const absorb = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [name, ...rest] = c.split(";")[0].split("=");
      if (/Max-Age=0/i.test(c)) jar.delete(name);
      else jar.set(name, rest.join("="));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const get = async (url) => {
    const res = await fetch(url, { redirect: "manual", headers: { cookie: cookie() } });
    absorb(res);
    report.browser.push({ method: "GET", path: new URL(url).pathname, status: res.status });
    return res;
  };
  const post = async (url, fields) => {
    const res = await fetch(url, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookie() },
      body: new URLSearchParams(fields),
    });
    absorb(res);
    report.browser.push({ method: "POST", path: new URL(url).pathname, status: res.status });
    return res;
  };
  const hidden = (html, n) => html.match(new RegExp(`name="${n}" value="([^"]*)"`))?.[1];
  let res = await get(authorizationUrl);
  let html = await res.text();
  if (!hidden(html, "request")) throw new Error(`no sign-in form (${res.status}): ${html.slice(0, 300)}`);
  res = await post(new URL("/login", authorizationUrl), {
    request: hidden(html, "request"),
    csrf: hidden(html, "csrf"),
    username: input.username,
    password: input.password,
  });
  if (res.status === 200) {
    html = await res.text();
    report.consent_shown = html.includes('action="/oauth2/consent"');
    if (!report.consent_shown) throw new Error(`sign-in refused: ${html.slice(0, 300)}`);
    res = await post(new URL("/oauth2/consent", authorizationUrl), {
      request: hidden(html, "request"),
      csrf: hidden(html, "csrf"),
      decision: "approve",
    });
  }
  const location = res.headers.get("location");
  if (!location) throw new Error(`no redirect after sign-in (${res.status})`);
  const back = new URL(location, authorizationUrl);
  report.callback = {
    redirect_uri: `${back.origin}${back.pathname}`,
    code: back.searchParams.has("code"),
    state_matches: back.searchParams.get("state") === authorizationUrl.searchParams.get("state"),
    iss: back.searchParams.get("iss"),
    error: back.searchParams.get("error"),
  };
  return back.searchParams.get("code");
}

class ScriptedProvider {
  code = undefined;
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: "gatehouse MCP SDK test client",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: input.scope ?? "openid",
    };
  }
  state() {
    return crypto.randomUUID();
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info) {
    this.info = info;
    report.registration = { ...report.registration, client_id: Boolean(info.client_id), token_endpoint_auth_method: info.token_endpoint_auth_method ?? null, client_secret: "client_secret" in info };
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
    const c = claimsOf(tokens.access_token);
    report.token = { ...report.token, token_type: tokens.token_type, scope: tokens.scope ?? null, refresh_token: Boolean(tokens.refresh_token), claims: { iss: c.iss, aud: c.aud ?? null, client_id: c.client_id, scope: c.scope, token_use: c.token_use, username: c.username } };
  }
  async redirectToAuthorization(url) {
    const p = url.searchParams;
    report.authorize = {
      path: url.pathname,
      resource: p.get("resource"),
      scope: p.get("scope"),
      code_challenge_method: p.get("code_challenge_method"),
      redirect_uri: p.get("redirect_uri"),
      client_id: Boolean(p.get("client_id")),
    };
    this.code = await browse(url);
  }
  saveCodeVerifier(v) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

const transportFor = (provider) => new StreamableHTTPClientTransport(new URL(input.url), { authProvider: provider, fetch: recordingFetch });

try {
  const provider = new ScriptedProvider();
  const first = transportFor(provider);
  try {
    await new Client({ name: "gatehouse-oauth-test-client", version: "1.0.0" }).connect(first);
    report.authorized_without_sign_in = true;
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (provider.code) {
    await first.finishAuth(provider.code);
    const client = new Client({ name: "gatehouse-oauth-test-client", version: "1.0.0" });
    try {
      await client.connect(transportFor(provider));
      const result = await client.callTool({ name: "whoami", arguments: {} });
      const text = (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("");
      report.mcp = { whoami: JSON.parse(text), is_error: result.isError === true };
      await client.close();
    } catch (e) {
      if (e instanceof StreamableHTTPError) report.mcp = { refused: { status: e.code ?? null, message: e.message } };
      else if (e instanceof McpError) report.mcp = { rpc_error: { code: e.code, message: e.message } };
      else report.mcp = { failed: String(e?.message ?? e) };
    }
  }
} catch (e) {
  report.error = { message: String(e?.message ?? e), stack: String(e?.stack ?? "") };
}
console.log(JSON.stringify(report));
process.exit(0);
