import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CognitoError, type AuthenticationResult } from "../src/cognito.ts";
import { SignedOut, TokenStore, type TokenStorage } from "../src/tokens.ts";

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

let n = 0;
const result = (expiresIn: number, withRefresh = true): AuthenticationResult => {
  n++;
  return {
    AccessToken: `access-${n}`,
    IdToken: `id-${n}`,
    ...(withRefresh ? { RefreshToken: `refresh-${n}` } : {}),
    ExpiresIn: expiresIn,
    TokenType: "Bearer",
  };
};

describe("TokenStore", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-28T12:00:00Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("treats the access token as gone 60 s before expiry and refreshes silently before that", async () => {
    const refresh = vi.fn(async (_rt: string) => result(3600, false));
    const s = new TokenStore({ refresh, storage: new MemoryStorage() });
    const t = s.set(result(3600), "alice");
    // Refresh is due 60 s (margin) + 5 min (lead) before expiry.
    expect(s.refreshAt(t)).toBe(t.expiresAt - 60_000 - 300_000);
    await vi.advanceTimersByTimeAsync(3600_000 - 360_000 - 1_000);
    expect(refresh).not.toHaveBeenCalled();
    expect(await s.accessToken()).toBe(t.accessToken);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(refresh).toHaveBeenCalledWith(t.refreshToken);
    expect(s.refreshCount).toBe(1);
    // Without rotation the refresh token is kept.
    expect(s.current?.refreshToken).toBe(t.refreshToken);
    expect(await s.accessToken()).not.toBe(t.accessToken);
  });

  it("a token inside the 60 s margin is not handed out: it is refreshed first", async () => {
    const refresh = vi.fn(async () => result(90));
    const s = new TokenStore({ refresh });
    const t = s.set(result(90));
    expect(s.usable(t)).toBe(true);
    vi.setSystemTime(t.expiresAt - 60_000); // exactly at the margin: gone
    expect(s.usable(t)).toBe(false);
    const got = await s.accessToken();
    expect(got).not.toBe(t.accessToken);
    expect(refresh).toHaveBeenCalledTimes(1);
    // Rotation: the new refresh token replaces the old one.
    expect(s.current?.refreshToken).not.toBe(t.refreshToken);
  });

  it("survives a reload: a new store over the same storage has the tokens and keeps refreshing", async () => {
    const storage = new MemoryStorage();
    const refresh = vi.fn(async () => result(3600, false));
    const a = new TokenStore({ refresh, storage });
    const t = a.set(result(3600), "bob");
    a.dispose();
    const b = new TokenStore({ refresh, storage });
    expect(b.signedIn).toBe(true);
    expect(b.current).toEqual(t);
    expect(await b.accessToken()).toBe(t.accessToken);
    await vi.advanceTimersByTimeAsync(3600_000);
    expect(refresh).toHaveBeenCalled();
    b.clear();
    expect(storage.map.size).toBe(0);
    expect(new TokenStore({ refresh, storage }).signedIn).toBe(false);
  });

  it("concurrent callers share one refresh", async () => {
    let release!: (r: AuthenticationResult) => void;
    const refresh = vi.fn(() => new Promise<AuthenticationResult>((r) => (release = r)));
    const s = new TokenStore({ refresh });
    const t = s.set(result(100));
    vi.setSystemTime(t.expiresAt);
    const p = Promise.all([s.accessToken(), s.accessToken(), s.accessToken()]);
    release(result(100));
    const got = await p;
    expect(new Set(got).size).toBe(1);
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it("refreshes once on a 401 and retries once with the new token", async () => {
    const refresh = vi.fn(async () => result(3600));
    const s = new TokenStore({ refresh });
    const t = s.set(result(3600));
    const seen: string[] = [];
    const resp = await s.withAuth(async (token) => {
      seen.push(token);
      return new Response(null, { status: seen.length === 1 ? 401 : 200 });
    });
    expect(resp.status).toBe(200);
    expect(seen[0]).toBe(t.accessToken);
    expect(seen[1]).not.toBe(t.accessToken);
    expect(refresh).toHaveBeenCalledTimes(1);
    // A second 401 is returned, not retried forever.
    const again = await s.withAuth(async () => new Response(null, { status: 401 }));
    expect(again.status).toBe(401);
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it("a refused refresh signs out; a network failure keeps the tokens and retries later", async () => {
    const refresh = vi.fn(async (): Promise<AuthenticationResult> => {
      throw new Error("offline");
    });
    const storage = new MemoryStorage();
    const s = new TokenStore({ refresh, storage });
    const t = s.set(result(3600));
    await expect(s.refreshNow()).rejects.toThrow("offline");
    expect(s.current?.refreshToken).toBe(t.refreshToken);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(refresh).toHaveBeenCalledTimes(2);
    const changes: string[] = [];
    s.subscribe((_t, why) => changes.push(why));
    refresh.mockImplementation(async () => {
      throw new CognitoError("NotAuthorizedException", "Refresh Token has been revoked", 400);
    });
    await expect(s.refreshNow()).rejects.toBeInstanceOf(SignedOut);
    expect(s.current).toBeNull();
    expect(s.signedIn).toBe(false);
    expect(storage.map.size).toBe(0);
    expect(changes).toContain("signout");
    await expect(s.accessToken()).rejects.toBeInstanceOf(SignedOut);
  });

  it("a refresh that returns after sign-out is dropped", async () => {
    let release!: (r: AuthenticationResult) => void;
    const s = new TokenStore({ refresh: () => new Promise((r) => (release = r)) });
    s.set(result(3600));
    const p = s.refreshNow();
    s.clear();
    release(result(3600));
    await expect(p).rejects.toBeInstanceOf(SignedOut);
    expect(s.current).toBeNull();
  });

  it("ignores garbage in storage", () => {
    const storage = new MemoryStorage();
    storage.setItem("gatehouse.tokens", "{not json");
    expect(new TokenStore({ refresh: vi.fn(), storage }).current).toBeNull();
    storage.setItem("gatehouse.tokens", JSON.stringify({ accessToken: 1 }));
    expect(new TokenStore({ refresh: vi.fn(), storage }).current).toBeNull();
  });
});
