// Cognito's USER_SRP_AUTH, client side: SRP-6a over the RFC 5054 3072-bit group with SHA-256 and Cognito's
// conventions (padded hex, "Caldera Derived Key", the TIMESTAMP format). BigInt for the arithmetic, WebCrypto for
// hashing, HMAC and randomness. The password never leaves this module; nothing here is logged.

const N_HEX =
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

/** The group's prime. */
export const N = BigInt("0x" + N_HEX);
/** The group's generator. */
export const g = 2n;

const encoder = new TextEncoder();

/** Hex digits of a non-negative integer, an even count, positive when read as signed big-endian. */
export function padHex(n: bigint): string {
  if (n < 0n) throw new RangeError("padHex of a negative number");
  let h = n.toString(16);
  if (h.length % 2 === 1) h = "0" + h;
  else if ("89abcdef".includes(h[0]!)) h = "00" + h;
  return h;
}

export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw new RangeError("not an even-length hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function base64Encode(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

export function base64Decode(s: string): Uint8Array {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// WebCrypto wants a BufferSource backed by an ArrayBuffer; copy to be safe across realms.
function buf(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer;
}

export async function sha256(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf(b)));
}

export async function hmacSha256(key: Uint8Array, msg: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", buf(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, buf(msg)));
}

/** H(bytes of hex) read as an integer. */
export async function hashHexToInt(hex: string): Promise<bigint> {
  return BigInt("0x" + bytesToHex(await sha256(hexToBytes(hex))));
}

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = ((base % mod) + mod) % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    e >>= 1n;
    b = (b * b) % mod;
  }
  return result;
}

/** `k = H(padHex(N) ‖ padHex(g))`. */
export function multiplier(): Promise<bigint> {
  return hashHexToInt(padHex(N) + padHex(g));
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Cognito's TIMESTAMP: `Www Mmm D HH:MM:SS UTC YYYY`, day of month without a leading zero. */
export function cognitoTimestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`
  );
}

/** The client's ephemeral secret `a` and public `A`. */
export interface SrpStart {
  readonly a: bigint;
  readonly A: bigint;
  readonly aHex: string;
}

function randomInt(bytes: number): bigint {
  const r = new Uint8Array(bytes);
  crypto.getRandomValues(r);
  return BigInt("0x" + bytesToHex(r));
}

/** Picks `a` (512 random bits) and computes `A = g^a mod N`. */
export function srpStart(aOverride?: bigint): SrpStart {
  for (;;) {
    const a = aOverride ?? randomInt(64) % N;
    const A = modPow(g, a, N);
    if (a !== 0n && A % N !== 0n) return { a, A, aHex: A.toString(16) };
    if (aOverride !== undefined) throw new RangeError("a gives A = 0 mod N");
  }
}

/** What the server sent in the PASSWORD_VERIFIER challenge, and the password. */
export interface SrpChallenge {
  userPoolId: string;
  userIdForSrp: string;
  password: string;
  saltHex: string;
  bHex: string;
  secretBlock: string;
}

/** The `x` of a user: `H(padHex(salt) ‖ hex(H(poolName ‖ userId ‖ ":" ‖ password)))`. */
export async function privateKey(poolName: string, userId: string, password: string, salt: bigint): Promise<bigint> {
  const inner = bytesToHex(await sha256(encoder.encode(`${poolName}${userId}:${password}`)));
  return hashHexToInt(padHex(salt) + inner);
}

/** The 16-byte session key from `u` and `S`. */
export async function sessionKey(u: bigint, S: bigint): Promise<Uint8Array> {
  const prk = await hmacSha256(hexToBytes(padHex(u)), hexToBytes(padHex(S)));
  const info = concat(encoder.encode("Caldera Derived Key"), new Uint8Array([1]));
  return (await hmacSha256(prk, info)).slice(0, 16);
}

/** PASSWORD_CLAIM_SIGNATURE (standard base64) and the TIMESTAMP it signs. */
export async function srpClaim(
  start: SrpStart,
  c: SrpChallenge,
  now: Date = new Date(),
): Promise<{ signature: string; timestamp: string }> {
  const poolName = c.userPoolId.split("_")[1];
  if (!poolName) throw new Error(`user pool id ${c.userPoolId} has no "_"`);
  if (!/^[0-9a-fA-F]+$/.test(c.bHex) || !/^[0-9a-fA-F]+$/.test(c.saltHex)) {
    throw new Error("the identity provider sent a malformed SRP challenge");
  }
  const B = BigInt("0x" + c.bHex);
  if (B % N === 0n) throw new Error("the identity provider sent SRP_B = 0 mod N");
  const k = await multiplier();
  const u = await hashHexToInt(padHex(start.A) + padHex(B));
  if (u === 0n) throw new Error("SRP u = 0");
  const x = await privateKey(poolName, c.userIdForSrp, c.password, BigInt("0x" + c.saltHex));
  const base = (((B - ((k * modPow(g, x, N)) % N)) % N) + N) % N;
  const S = modPow(base, start.a + u * x, N);
  const key = await sessionKey(u, S);
  const timestamp = cognitoTimestamp(now);
  const msg = concat(
    encoder.encode(poolName),
    encoder.encode(c.userIdForSrp),
    base64Decode(c.secretBlock),
    encoder.encode(timestamp),
  );
  return { signature: base64Encode(await hmacSha256(key, msg)), timestamp };
}
