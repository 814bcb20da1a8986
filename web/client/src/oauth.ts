// The hosted sign-in: OAuth 2.1 authorization code with PKCE S256 at the IdP's own page (/oauth2/authorize), for a
// public client. `beginHostedSignIn` keeps a random verifier, state and nonce in sessionStorage (this tab only) and
// navigates away; `completeHostedSignIn` takes the browser's return to the app's callback, refuses a wrong state,
// a foreign issuer, an error answer or a wrong nonce, exchanges the code at /oauth2/token and hands the tokens to
// the TokenStore the SRP sign-in uses (so refresh — Cognito's REFRESH_TOKEN_AUTH — works unchanged). The pending
// entry is single use and the callback's query is wiped from the address bar. Never logs a code, a verifier or a
// token; never holds a client secret.
import type { AuthenticationResult } from "./cognito.ts";
import type { AppConfig, OAuthConfig } from "./config.ts";
import { base64Url } from "./session.ts";
import { decodeClaims, type StoredTokens, type TokenStorage, type TokenStore } from "./tokens.ts";

/** A hosted sign-in that did not complete; `code` is the OAuth error (or a local reason such as `state_mismatch`). */
export class HostedSignInError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "HostedSignInError";
    this.code = code;
  }
}

/** What a sign-in in progress keeps until the browser comes back. */
interface Pending {
  state: string;
  verifier: string;
  nonce: string;
  redirectUri: string;
}

/** Where the pieces come from; each defaults to the browser's own. */
export interface HostedDeps {
  /** Where the pending sign-in waits (default sessionStorage: one tab, gone with it). */
  session?: TokenStorage;
  /** Where the "signed in through the hosted page" mark is kept (default localStorage, beside the tokens). */
  local?: TokenStorage;
  crypto?: Crypto;
  fetchImpl?: typeof fetch;
  /** Leaves the app for the IdP (default location.assign). */
  navigate?: (url: string) => void;
  /** Rewrites the address bar without a navigation (default history.replaceState). */
  replaceUrl?: (url: string) => void;
}

const pendingKey = (clientId: string) => `gatehouse.oauth.pending.${clientId}`;
const hostedKey = (clientId: string) => `gatehouse.oauth.hosted.${clientId}`;

function need(cfg: AppConfig): OAuthConfig {
  if (!cfg.oauth) throw new HostedSignInError("not_configured", "the hosted sign-in is not set up for this app's client");
  return cfg.oauth;
}

/** A new RFC 7636 code verifier: 32 random bytes as 43 base64url characters. */
export function newVerifier(c: Crypto = globalThis.crypto): string {
  return base64Url(c.getRandomValues(new Uint8Array(32)));
}

/** The S256 code challenge of a verifier: BASE64URL(SHA-256(ASCII(verifier))). */
export async function pkceChallenge(verifier: string, c: Crypto = globalThis.crypto): Promise<string> {
  const digest = await c.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

/** The authorization request's URL. */
export function authorizeUrl(cfg: AppConfig, p: { state: string; challenge: string; nonce: string }): string {
  const o = need(cfg);
  const q = new URLSearchParams({
    response_type: "code",
    client_id: cfg.clientId,
    redirect_uri: o.redirectUri,
    state: p.state,
    scope: o.scopes.join(" "),
    code_challenge: p.challenge,
    code_challenge_method: "S256",
    nonce: p.nonce,
  });
  return `${o.authorizeUrl}?${q.toString()}`;
}

/** Starts the hosted sign-in: keeps a new verifier, state and nonce for this tab, then leaves for the IdP's page. */
export async function beginHostedSignIn(cfg: AppConfig, deps: HostedDeps = {}): Promise<string> {
  const o = need(cfg);
  const c = deps.crypto ?? globalThis.crypto;
  const pending: Pending = { state: newVerifier(c), verifier: newVerifier(c), nonce: newVerifier(c), redirectUri: o.redirectUri };
  const url = authorizeUrl(cfg, { state: pending.state, nonce: pending.nonce, challenge: await pkceChallenge(pending.verifier, c) });
  (deps.session ?? globalThis.sessionStorage).setItem(pendingKey(cfg.clientId), JSON.stringify(pending));
  (deps.navigate ?? ((u: string) => globalThis.location.assign(u)))(url);
  return url;
}

/** Whether `url` is the browser's return to this app's callback (with a code or an error). */
export function isHostedCallback(cfg: AppConfig, url: string | URL): boolean {
  if (!cfg.oauth) return false;
  const u = new URL(url);
  const r = new URL(cfg.oauth.redirectUri);
  return u.origin === r.origin && u.pathname === r.pathname && (u.searchParams.has("code") || u.searchParams.has("error"));
}

function takePending(store: TokenStorage, clientId: string): Pending | null {
  const text = store.getItem(pendingKey(clientId));
  store.removeItem(pendingKey(clientId));
  if (!text) return null;
  try {
    const p = JSON.parse(text) as Partial<Pending>;
    if (typeof p.state !== "string" || typeof p.verifier !== "string" || typeof p.nonce !== "string" || typeof p.redirectUri !== "string") return null;
    return p as Pending;
  } catch {
    return null;
  }
}

async function exchange(cfg: AppConfig, o: OAuthConfig, code: string, p: Pending, fetchImpl: typeof fetch): Promise<AuthenticationResult> {
  const body = new URLSearchParams({ grant_type: "authorization_code", client_id: cfg.clientId, code, redirect_uri: p.redirectUri, code_verifier: p.verifier });
  let resp: Response;
  try {
    resp = await fetchImpl(o.tokenUrl, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: body.toString() });
  } catch (e) {
    throw new Error(`cannot reach the identity provider (${(e as Error).message})`, { cause: e });
  }
  const j = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
  if (!resp.ok) {
    const err = typeof j["error"] === "string" ? j["error"] : `http_${resp.status}`;
    const why = typeof j["error_description"] === "string" ? j["error_description"] : `HTTP ${resp.status}`;
    throw new HostedSignInError(err, `The identity provider refused the sign-in: ${why}`);
  }
  if (typeof j["access_token"] !== "string" || typeof j["expires_in"] !== "number") {
    throw new HostedSignInError("invalid_response", "The identity provider's token answer has no access token");
  }
  const r: AuthenticationResult = { AccessToken: j["access_token"], ExpiresIn: j["expires_in"] };
  if (typeof j["id_token"] === "string") r.IdToken = j["id_token"];
  if (typeof j["refresh_token"] === "string") r.RefreshToken = j["refresh_token"];
  if (typeof j["token_type"] === "string") r.TokenType = j["token_type"];
  return r;
}

/**
 * Completes the hosted sign-in at the callback `url`: the pending entry (taken, whatever happens next), the
 * address bar cleaned, `state` and `iss` checked, the code exchanged, the ID token's nonce checked, and the tokens
 * stored in `tokens`. Throws HostedSignInError on a refusal (an `error=` answer carries its description).
 */
export async function completeHostedSignIn(cfg: AppConfig, url: string | URL, tokens: TokenStore, deps: HostedDeps = {}): Promise<StoredTokens> {
  const o = need(cfg);
  const u = new URL(url);
  const q = u.searchParams;
  const pending = takePending(deps.session ?? globalThis.sessionStorage, cfg.clientId);
  const clean = new URL(o.redirectUri);
  (deps.replaceUrl ?? ((x: string) => globalThis.history.replaceState(null, "", x)))(`${clean.origin}/`);
  if (!pending) throw new HostedSignInError("no_pending_sign_in", "No sign-in was started in this tab. Sign in again.");
  if (q.get("state") !== pending.state) throw new HostedSignInError("state_mismatch", "The sign-in answer does not belong to this tab's sign-in (state differs). Sign in again.");
  const error = q.get("error");
  if (error) {
    const why = q.get("error_description") ?? error;
    throw new HostedSignInError(error, `The identity provider refused the sign-in: ${why}`);
  }
  const iss = q.get("iss");
  if (iss !== null && iss !== o.issuer) throw new HostedSignInError("issuer_mismatch", "The sign-in answer comes from another identity provider. Sign in again.");
  const code = q.get("code");
  if (!code) throw new HostedSignInError("invalid_request", "The sign-in answer has no code. Sign in again.");
  const result = await exchange(cfg, o, code, pending, deps.fetchImpl ?? globalThis.fetch.bind(globalThis));
  const claims = result.IdToken ? decodeClaims(result.IdToken) : {};
  if (claims["nonce"] !== pending.nonce) throw new HostedSignInError("nonce_mismatch", "The ID token was not issued for this sign-in (nonce differs). Sign in again.");
  const username = claims["cognito:username"];
  const t = tokens.set(result, typeof username === "string" ? username : undefined);
  (deps.local ?? globalThis.localStorage).setItem(hostedKey(cfg.clientId), "1");
  return t;
}

/**
 * Where to send the browser after a sign-out, to end the IdP's own session too: its /logout with the registered
 * logout_uri, if the tokens came from the hosted page (the mark is removed); otherwise undefined.
 */
export function hostedSignOutUrl(cfg: AppConfig, deps: Pick<HostedDeps, "local"> = {}): string | undefined {
  const local = deps.local ?? globalThis.localStorage;
  const was = local.getItem(hostedKey(cfg.clientId)) !== null;
  local.removeItem(hostedKey(cfg.clientId));
  if (!was || !cfg.oauth?.logoutUri) return undefined;
  const q = new URLSearchParams({ client_id: cfg.clientId, logout_uri: cfg.oauth.logoutUri });
  return `${cfg.oauth.logoutUrl}?${q.toString()}`;
}
