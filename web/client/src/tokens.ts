// The token store: keeps the signed-in user's tokens (in Web Storage, so a reload stays signed in), treats an
// access token as gone 60 s before it expires, refreshes silently before that, and once more when a request gets
// a 401. Expiry is measured on the local clock from `ExpiresIn` at receipt, so a skewed clock does no harm.
// Tokens are never logged.
import { CognitoError, type AuthenticationResult } from "./cognito.ts";

/** What is kept between page loads. */
export interface StoredTokens {
  accessToken: string;
  idToken?: string;
  refreshToken?: string;
  /** Local clock, ms: when the access token expires. */
  expiresAt: number;
  /** Local clock, ms: when it was received. */
  receivedAt: number;
  username?: string;
}

/** The subset of Web Storage the store uses. */
export type TokenStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export type TokenChange = "signin" | "refresh" | "signout" | "sync";

export interface TokenStoreOptions {
  /** Exchanges a refresh token for new tokens (UserPool.refresh). */
  refresh: (refreshToken: string) => Promise<AuthenticationResult>;
  /** Where tokens survive a reload; null keeps them in memory only. */
  storage?: TokenStorage | null;
  /** Storage key (default "gatehouse.tokens"). */
  key?: string;
  /** A token is "gone" this long before its expiry (default 60 s). */
  marginMs?: number;
  /** The clock (default Date.now). */
  now?: () => number;
}

/** Thrown when there is no usable token and none can be had without signing in. */
export class SignedOut extends Error {
  constructor(message = "signed out: sign in again") {
    super(message);
    this.name = "SignedOut";
  }
}

export const DEFAULT_MARGIN_MS = 60_000;
const MAX_LEAD_MS = 5 * 60_000;
const MIN_DELAY_MS = 2_000;
const RETRY_MS = 5_000;

function parse(text: string | null): StoredTokens | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as Partial<StoredTokens>;
    if (typeof v.accessToken !== "string" || typeof v.expiresAt !== "number" || typeof v.receivedAt !== "number") {
      return null;
    }
    return v as StoredTokens;
  } catch {
    return null;
  }
}

export class TokenStore {
  private tokens: StoredTokens | null;
  private readonly opts: Required<Omit<TokenStoreOptions, "storage">> & { storage: TokenStorage | null };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: Promise<StoredTokens> | undefined;
  private readonly listeners = new Set<(t: StoredTokens | null, why: TokenChange) => void>();
  private readonly onStorage = (e: StorageEvent) => {
    if (e.key !== this.opts.key) return;
    this.tokens = parse(e.newValue);
    this.schedule();
    this.emit("sync");
  };
  /** Silent refreshes done by this store (shown by the app, watched by the end-to-end test). */
  refreshCount = 0;

  constructor(options: TokenStoreOptions) {
    this.opts = {
      key: "gatehouse.tokens",
      marginMs: DEFAULT_MARGIN_MS,
      now: () => Date.now(),
      ...options,
      storage: options.storage ?? null,
    };
    this.tokens = this.opts.storage ? parse(this.opts.storage.getItem(this.opts.key)) : null;
    if (this.tokens && !this.tokens.refreshToken && !this.usable(this.tokens)) this.clear();
    if (typeof window !== "undefined" && this.opts.storage) window.addEventListener("storage", this.onStorage);
    this.schedule();
  }

  /** The tokens as stored (even if the access token is gone). */
  get current(): StoredTokens | null {
    return this.tokens;
  }

  /** Whether someone is signed in (a usable access token, or a refresh token to get one). */
  get signedIn(): boolean {
    return !!this.tokens && (this.usable(this.tokens) || !!this.tokens.refreshToken);
  }

  /** Usable: more than the margin before expiry. */
  usable(t: StoredTokens): boolean {
    return this.opts.now() < t.expiresAt - this.opts.marginMs;
  }

  /** When the store will refresh `t` by itself (local clock, ms). */
  refreshAt(t: StoredTokens): number {
    const lifetime = t.expiresAt - t.receivedAt;
    const lead = Math.min(MAX_LEAD_MS, Math.max(0, (lifetime - this.opts.marginMs) / 4));
    return t.expiresAt - this.opts.marginMs - lead;
  }

  subscribe(fn: (t: StoredTokens | null, why: TokenChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stores a sign-in's tokens. */
  set(result: AuthenticationResult, username?: string): StoredTokens {
    const t = this.fromResult(result, undefined, username);
    this.save(t);
    this.emit("signin");
    return t;
  }

  /** Forgets the tokens (after sign-out, or when a refresh is refused). */
  clear(): void {
    this.tokens = null;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.opts.storage?.removeItem(this.opts.key);
    this.emit("signout");
  }

  /** Stops timers and listeners. */
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (typeof window !== "undefined") window.removeEventListener("storage", this.onStorage);
    this.listeners.clear();
  }

  /** A usable access token, refreshing first if needed. Throws SignedOut when there is none to be had. */
  async accessToken(): Promise<string> {
    const t = this.tokens;
    if (!t) throw new SignedOut();
    if (this.usable(t)) return t.accessToken;
    return (await this.refreshNow()).accessToken;
  }

  /** Refreshes now (one request at a time, shared by concurrent callers). */
  refreshNow(): Promise<StoredTokens> {
    if (this.inflight) return this.inflight;
    const t = this.tokens;
    if (!t?.refreshToken) {
      if (t && !this.usable(t)) this.clear();
      return Promise.reject(new SignedOut());
    }
    const refreshToken = t.refreshToken;
    this.inflight = (async () => {
      try {
        const r = await this.opts.refresh(refreshToken);
        // Signed out (or another sign-in) while the request was in flight: drop the answer.
        if (this.tokens?.refreshToken !== refreshToken) throw new SignedOut();
        const fresh = this.fromResult(r, refreshToken, t.username);
        this.refreshCount++;
        this.save(fresh);
        this.emit("refresh");
        return fresh;
      } catch (e) {
        if (e instanceof CognitoError && (e.type === "NotAuthorizedException" || e.type === "RefreshTokenReuseException")) {
          this.clear();
          throw new SignedOut(`signed out: ${e.message}`);
        }
        if (!(e instanceof SignedOut)) this.schedule(RETRY_MS);
        throw e;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /**
   * Runs a request with the access token; on a 401 refreshes once and runs it once more with the new token.
   */
  async withAuth(request: (accessToken: string) => Promise<Response>): Promise<Response> {
    const first = await request(await this.accessToken());
    if (first.status !== 401 || !this.tokens?.refreshToken) return first;
    await first.body?.cancel().catch(() => undefined);
    const fresh = await this.refreshNow();
    return request(fresh.accessToken);
  }

  private fromResult(r: AuthenticationResult, previousRefresh?: string, username?: string): StoredTokens {
    const now = this.opts.now();
    const t: StoredTokens = {
      accessToken: r.AccessToken,
      expiresAt: now + Math.max(0, r.ExpiresIn) * 1000,
      receivedAt: now,
    };
    const idToken = r.IdToken ?? (previousRefresh ? this.tokens?.idToken : undefined);
    if (idToken) t.idToken = idToken;
    const refreshToken = r.RefreshToken ?? previousRefresh;
    if (refreshToken) t.refreshToken = refreshToken;
    if (username) t.username = username;
    return t;
  }

  private save(t: StoredTokens): void {
    this.tokens = t;
    this.opts.storage?.setItem(this.opts.key, JSON.stringify(t));
    this.schedule();
  }

  private schedule(delayOverride?: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const t = this.tokens;
    if (!t?.refreshToken) return;
    const delay = delayOverride ?? Math.max(MIN_DELAY_MS, this.refreshAt(t) - this.opts.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshNow().catch(() => undefined);
    }, delay);
  }

  private emit(why: TokenChange): void {
    for (const fn of this.listeners) {
      try {
        fn(this.tokens, why);
      } catch {
        // A listener's failure must not break the store.
      }
    }
  }
}

/** The claims of a JWT, decoded without verification (for display: `username`, `exp`). */
export function decodeClaims(jwt: string): Record<string, unknown> {
  const part = jwt.split(".")[1];
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
