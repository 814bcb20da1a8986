import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig, type AppConfig } from "../src/config.ts";
import { HostedSignInError, beginHostedSignIn, completeHostedSignIn, hostedSignOutUrl, isHostedCallback, newVerifier, pkceChallenge } from "../src/oauth.ts";
import { base64Url } from "../src/session.ts";
import { TokenStore, type TokenStorage } from "../src/tokens.ts";

class MemoryStorage implements TokenStorage {
  map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

// A stand-in token endpoint that records the form it got and answers with tokens whose ID token carries `nonce`.
const forms: { type: string; form: URLSearchParams }[] = [];
let nonceToIssue = "";
let refuseWith: { error: string; error_description: string } | null = null;
let server: http.Server;
let idp = "";
const jwt = (claims: Record<string, unknown>) =>
  `${base64Url(new TextEncoder().encode('{"alg":"RS256"}'))}.${base64Url(new TextEncoder().encode(JSON.stringify(claims)))}.sig`;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      forms.push({ type: String(req.headers["content-type"]), form: new URLSearchParams(data) });
      if (refuseWith) {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(refuseWith));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          access_token: jwt({ username: "alice" }),
          id_token: jwt({ "cognito:username": "alice", nonce: nonceToIssue }),
          refresh_token: "refresh-1",
          expires_in: 3600,
          token_type: "Bearer",
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  idp = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const APP = "http://127.0.0.1:4173";
const config = (): AppConfig =>
  parseConfig({
    region: "us-east-1",
    idp_url: idp,
    user_pool_id: "us-east-1_AbC",
    client_id: "client1",
    gateway_url: "http://127.0.0.1:9",
    runtimes: [],
    oauth: {
      issuer: `${idp}/us-east-1_AbC`,
      redirect_uri: `${APP}/callback`,
      logout_uri: `${APP}/`,
      scopes: ["openid", "email", "profile"],
    },
  });

interface World {
  session: MemoryStorage;
  local: MemoryStorage;
  navigated: string[];
  replaced: string[];
  tokens: TokenStore;
}
let w: World;
beforeEach(() => {
  forms.length = 0;
  refuseWith = null;
  w = { session: new MemoryStorage(), local: new MemoryStorage(), navigated: [], replaced: [], tokens: new TokenStore({ refresh: () => Promise.reject(new Error("no refresh here")) }) };
});
const deps = () => ({ session: w.session, local: w.local, navigate: (u: string) => w.navigated.push(u), replaceUrl: (u: string) => w.replaced.push(u) });

/** Starts a sign-in and returns the authorization request's parameters. */
async function begin(cfg: AppConfig): Promise<URLSearchParams> {
  await beginHostedSignIn(cfg, deps());
  const u = new URL(w.navigated.at(-1)!);
  expect(`${u.origin}${u.pathname}`).toBe(`${idp}/oauth2/authorize`);
  return u.searchParams;
}

const callback = (q: Record<string, string>) => `${APP}/callback?${new URLSearchParams(q).toString()}`;

describe("PKCE", () => {
  it("the S256 challenge matches RFC 7636 Appendix B", async () => {
    // Appendix B: these 32 octets give the verifier, whose S256 challenge is the one below.
    const octets = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121];
    const fixed = { getRandomValues: <T extends ArrayBufferView | null>(a: T) => ((a as unknown as Uint8Array).set(octets), a), subtle: globalThis.crypto.subtle } as unknown as Crypto;
    const verifier = newVerifier(fixed);
    expect(verifier).toBe("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    expect(await pkceChallenge(verifier)).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  it("a new verifier is 43 base64url characters from 32 random bytes, different each time", () => {
    const a = newVerifier();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newVerifier()).not.toBe(a);
  });
});

describe("hosted sign-in", () => {
  it("sends the authorization request with S256, state and nonce, and keeps the verifier for this tab only", async () => {
    const cfg = config();
    const q = await begin(cfg);
    expect(Object.fromEntries(q)).toMatchObject({
      response_type: "code",
      client_id: "client1",
      redirect_uri: `${APP}/callback`,
      scope: "openid email profile",
      code_challenge_method: "S256",
    });
    const pending = JSON.parse(w.session.getItem("gatehouse.oauth.pending.client1")!) as Record<string, string>;
    expect(q.get("state")).toBe(pending["state"]);
    expect(q.get("nonce")).toBe(pending["nonce"]);
    expect(q.get("code_challenge")).toBe(await pkceChallenge(pending["verifier"]!));
    expect(q.toString()).not.toContain(pending["verifier"]);
    expect(w.local.map.size).toBe(0);
  });

  it("exchanges the code with the verifier and stores the tokens in the token store", async () => {
    const cfg = config();
    const q = await begin(cfg);
    nonceToIssue = q.get("nonce")!;
    const pending = JSON.parse(w.session.getItem("gatehouse.oauth.pending.client1")!) as Record<string, string>;
    const url = callback({ code: "the-code", state: q.get("state")!, iss: `${idp}/us-east-1_AbC` });
    expect(isHostedCallback(cfg, url)).toBe(true);
    const t = await completeHostedSignIn(cfg, url, w.tokens, deps());
    expect(forms).toHaveLength(1);
    expect(forms[0]!.type).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(forms[0]!.form)).toEqual({
      grant_type: "authorization_code",
      client_id: "client1",
      code: "the-code",
      redirect_uri: `${APP}/callback`,
      code_verifier: pending["verifier"],
    });
    expect(w.tokens.current).toEqual(t);
    expect(t.refreshToken).toBe("refresh-1");
    expect(t.username).toBe("alice");
    expect(w.replaced).toEqual([`${APP}/`]);
    // Signing out afterwards also ends the IdP's session, once.
    expect(hostedSignOutUrl(cfg, { local: w.local })).toBe(`${idp}/logout?client_id=client1&logout_uri=${encodeURIComponent(`${APP}/`)}`);
    expect(hostedSignOutUrl(cfg, { local: w.local })).toBeUndefined();
  });

  it("removes the verifier after use: the same answer again is refused without a token request", async () => {
    const cfg = config();
    const q = await begin(cfg);
    nonceToIssue = q.get("nonce")!;
    const url = callback({ code: "the-code", state: q.get("state")! });
    await completeHostedSignIn(cfg, url, w.tokens, deps());
    expect(w.session.map.size).toBe(0);
    const again = await completeHostedSignIn(cfg, url, w.tokens, deps()).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(HostedSignInError);
    expect((again as HostedSignInError).code).toBe("no_pending_sign_in");
    expect(forms).toHaveLength(1);
  });

  it("refuses an answer whose state differs, and forgets the pending sign-in", async () => {
    const cfg = config();
    await begin(cfg);
    const e = await completeHostedSignIn(cfg, callback({ code: "c", state: "someone-elses-state" }), w.tokens, deps()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostedSignInError);
    expect((e as HostedSignInError).code).toBe("state_mismatch");
    expect(forms).toHaveLength(0);
    expect(w.tokens.current).toBeNull();
    expect(w.session.map.size).toBe(0);
    expect(w.replaced).toEqual([`${APP}/`]);
  });

  it("surfaces an error answer with its description", async () => {
    const cfg = config();
    const q = await begin(cfg);
    const url = callback({ error: "access_denied", error_description: "The user cancelled the sign-in", state: q.get("state")! });
    expect(isHostedCallback(cfg, url)).toBe(true);
    const e = await completeHostedSignIn(cfg, url, w.tokens, deps()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostedSignInError);
    expect((e as HostedSignInError).code).toBe("access_denied");
    expect((e as Error).message).toContain("The user cancelled the sign-in");
    expect(forms).toHaveLength(0);
  });

  it("refuses an answer from another issuer (RFC 9207) before exchanging the code", async () => {
    const cfg = config();
    const q = await begin(cfg);
    const e = await completeHostedSignIn(cfg, callback({ code: "c", state: q.get("state")!, iss: "https://evil.example.com" }), w.tokens, deps()).catch((x: unknown) => x);
    expect((e as HostedSignInError).code).toBe("issuer_mismatch");
    expect(forms).toHaveLength(0);
  });

  it("refuses an ID token whose nonce is not this sign-in's", async () => {
    const cfg = config();
    const q = await begin(cfg);
    nonceToIssue = "another-nonce";
    const e = await completeHostedSignIn(cfg, callback({ code: "c", state: q.get("state")! }), w.tokens, deps()).catch((x: unknown) => x);
    expect((e as HostedSignInError).code).toBe("nonce_mismatch");
    expect(w.tokens.current).toBeNull();
  });

  it("surfaces the token endpoint's refusal", async () => {
    const cfg = config();
    const q = await begin(cfg);
    refuseWith = { error: "invalid_grant", error_description: "the code was used already; the tokens it issued are revoked" };
    const e = await completeHostedSignIn(cfg, callback({ code: "c", state: q.get("state")! }), w.tokens, deps()).catch((x: unknown) => x);
    expect((e as HostedSignInError).code).toBe("invalid_grant");
    expect((e as Error).message).toContain("the code was used already");
    expect(w.tokens.current).toBeNull();
  });

  it("is off without oauth in config.json, and only the callback path counts", async () => {
    const cfg = config();
    expect(isHostedCallback(cfg, `${APP}/?code=x&state=y`)).toBe(false);
    expect(isHostedCallback(cfg, `${APP}/callback`)).toBe(false);
    const plain = { ...cfg, oauth: undefined };
    expect(isHostedCallback(plain, `${APP}/callback?code=x`)).toBe(false);
    await expect(beginHostedSignIn(plain, deps())).rejects.toThrow(/not set up/);
    expect(w.navigated).toHaveLength(0);
  });
});

describe("parseConfig oauth", () => {
  const base = { region: "r", idp_url: "http://i", user_pool_id: "p", client_id: "c", gateway_url: "http://g", runtimes: [] };
  const oauth = { issuer: "http://i/p", redirect_uri: "http://a/callback", logout_uri: "http://a/", scopes: ["openid"] };
  it("is optional and strict when present", () => {
    expect(parseConfig(base).oauth).toBeUndefined();
    expect(parseConfig({ ...base, oauth }).oauth).toEqual({
      issuer: "http://i/p",
      authorizeUrl: "http://i/oauth2/authorize",
      tokenUrl: "http://i/oauth2/token",
      logoutUrl: "http://i/logout",
      redirectUri: "http://a/callback",
      logoutUri: "http://a/",
      scopes: ["openid"],
    });
    expect(() => parseConfig({ ...base, oauth: "yes" })).toThrow(/"oauth" is not an object/);
    expect(() => parseConfig({ ...base, oauth: { ...oauth, issuer: undefined } })).toThrow(/"oauth.issuer" is missing/);
    expect(() => parseConfig({ ...base, oauth: { ...oauth, redirect_uri: "/callback" } })).toThrow(/"oauth.redirect_uri" is not an absolute URL/);
    expect(() => parseConfig({ ...base, oauth: { ...oauth, logout_uri: "javascript:alert(1)" } })).toThrow(/not an http\(s\) URL/);
    expect(() => parseConfig({ ...base, oauth: { ...oauth, scopes: ["email"] } })).toThrow(/lacks "openid"/);
    expect(() => parseConfig({ ...base, oauth: { ...oauth, scopes: "openid" } })).toThrow(/not a list of scopes/);
  });
});
