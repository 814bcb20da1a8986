// Runtime session ids: AgentCore wants 33 to 256 characters of [a-zA-Z0-9-_], the first a letter or digit; these
// are "s" followed by 43 characters of base64url carrying 256 bits from the platform's CSPRNG.

/** base64url without padding. */
export function base64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A new session id: "s" and 32 random bytes as 43 base64url characters (44 in all). */
export function newSessionId(): string {
  const r = new Uint8Array(32);
  crypto.getRandomValues(r);
  // base64url may start with '-' or '_', which the gateway (like AgentCore) refuses as a first character.
  return `s${base64Url(r)}`;
}

/** Whether a string is a session id the gateway accepts: 33–256 of [A-Za-z0-9_-], starting with a letter or digit. */
export function isValidSessionId(s: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{32,255}$/.test(s);
}
