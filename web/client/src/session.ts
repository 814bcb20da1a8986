// Runtime session ids: AgentCore wants 33 or more characters; these are 43 characters of base64url carrying
// 256 bits from the platform's CSPRNG.

/** base64url without padding. */
export function base64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A new session id: 32 random bytes as 43 base64url characters. */
export function newSessionId(): string {
  const r = new Uint8Array(32);
  crypto.getRandomValues(r);
  return base64Url(r);
}

/** Whether a string is a session id the gateway accepts (33–256 characters of [A-Za-z0-9_-]). */
export function isValidSessionId(s: string): boolean {
  return /^[A-Za-z0-9_-]{33,256}$/.test(s);
}
