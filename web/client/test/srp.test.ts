import { describe, expect, it } from "vitest";
import {
  N,
  base64Decode,
  base64Encode,
  cognitoTimestamp,
  g,
  hashHexToInt,
  hmacSha256,
  modPow,
  multiplier,
  padHex,
  privateKey,
  sessionKey,
  srpClaim,
  srpStart,
} from "../src/srp.ts";

// The server side of SRP-6a as Cognito runs it (RFC 5054 with Cognito's derivation), to check the client against.
async function serverSignature(opts: {
  poolName: string;
  userId: string;
  password: string;
  salt: bigint;
  b: bigint;
  A: bigint;
  secretBlock: string;
  timestamp: string;
}): Promise<{ B: bigint; expected: () => Promise<string> }> {
  const k = await multiplier();
  const x = await privateKey(opts.poolName, opts.userId, opts.password, opts.salt);
  const v = modPow(g, x, N);
  const B = (k * v + modPow(g, opts.b, N)) % N;
  return {
    B,
    expected: async () => {
      const u = await hashHexToInt(padHex(opts.A) + padHex(B));
      const S = modPow((opts.A * modPow(v, u, N)) % N, opts.b, N);
      const key = await sessionKey(u, S);
      const enc = new TextEncoder();
      const parts = [enc.encode(opts.poolName), enc.encode(opts.userId), base64Decode(opts.secretBlock), enc.encode(opts.timestamp)];
      const msg = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        msg.set(p, off);
        off += p.length;
      }
      return base64Encode(await hmacSha256(key, msg));
    },
  };
}

describe("srp", () => {
  it("pads hex the way Cognito does", () => {
    expect(padHex(0x1n)).toBe("01");
    expect(padHex(0x7fn)).toBe("7f");
    expect(padHex(0x80n)).toBe("0080");
    expect(padHex(0xabcn)).toBe("0abc");
    expect(padHex(N).startsWith("00ffffffffffffffffc90fdaa22168c234")).toBe(true);
    expect(padHex(g)).toBe("02");
  });

  it("formats TIMESTAMP like the AWS libraries (no leading zero on the day)", () => {
    expect(cognitoTimestamp(new Date(1_795_880_880_000))).toBe("Sat Nov 28 15:48:00 UTC 2026");
    expect(cognitoTimestamp(new Date(1_796_115_907_000))).toBe("Tue Dec 1 09:05:07 UTC 2026");
  });

  it("k is H(padHex(N) || padHex(g))", async () => {
    // The well-known multiplier of the 3072-bit group with SHA-256 as the AWS libraries compute it.
    expect((await multiplier()).toString(16)).toBe("538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6");
  });

  it("the client's claim is the signature an SRP-6a server expects, and only with the right password", async () => {
    const start = srpStart();
    expect(start.A).toBe(modPow(g, start.a, N));
    const salt = 0x9f3a51c2d4e5f60718293a4b5c6d7e8fn;
    const secretBlock = base64Encode(new Uint8Array([1, 2, 3, 250, 251, 252]));
    const now = new Date(1_795_880_880_000);
    const server = await serverSignature({
      poolName: "AbC123xYz",
      userId: "alice",
      password: "Corr3ct!horse",
      salt,
      b: 0x1234567890abcdef1234567890abcdef1234567890abcdefn,
      A: start.A,
      secretBlock,
      timestamp: cognitoTimestamp(now),
    });
    const challenge = {
      userPoolId: "us-east-1_AbC123xYz",
      userIdForSrp: "alice",
      saltHex: salt.toString(16),
      bHex: server.B.toString(16),
      secretBlock,
    };
    const good = await srpClaim(start, { ...challenge, password: "Corr3ct!horse" }, now);
    expect(good.timestamp).toBe("Sat Nov 28 15:48:00 UTC 2026");
    expect(good.signature).toBe(await server.expected());
    const bad = await srpClaim(start, { ...challenge, password: "wrong" }, now);
    expect(bad.signature).not.toBe(good.signature);
  });

  it("refuses B = 0 mod N and malformed hex", async () => {
    const start = srpStart();
    const c = { userPoolId: "us-east-1_x", userIdForSrp: "a", password: "p", saltHex: "01", secretBlock: "" };
    await expect(srpClaim(start, { ...c, bHex: N.toString(16) })).rejects.toThrow(/SRP_B/);
    await expect(srpClaim(start, { ...c, bHex: "zz" })).rejects.toThrow(/malformed/);
  });
});
