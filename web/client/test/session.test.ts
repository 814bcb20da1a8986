import { describe, expect, it } from "vitest";
import { base64Url, isValidSessionId, newSessionId } from "../src/session.ts";

describe("session ids", () => {
  it("are at least 33 characters of base64url carrying 256 random bits, never starting with - or _", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newSessionId();
      expect(id).toMatch(/^s[A-Za-z0-9_-]{43}$/);
      expect(isValidSessionId(id)).toBe(true);
      ids.add(id);
    }
    expect(ids.size).toBe(1000);
    // 43 base64url characters = 258 bits of encoding, of which 256 are the random bytes.
    expect(43 * 6).toBeGreaterThanOrEqual(256);
  });

  it("isValidSessionId follows the gateway's rule", () => {
    expect(isValidSessionId("a".repeat(32))).toBe(false);
    expect(isValidSessionId("a".repeat(33))).toBe(true);
    expect(isValidSessionId("a".repeat(257))).toBe(false);
    expect(isValidSessionId("a".repeat(40) + "/")).toBe(false);
    expect(isValidSessionId("_" + "a".repeat(40))).toBe(false);
    expect(isValidSessionId("-" + "a".repeat(40))).toBe(false);
  });

  it("base64Url has no padding or +/", () => {
    expect(base64Url(new Uint8Array([0xfb, 0xff, 0xfe]))).toBe("-__-");
    expect(base64Url(new Uint8Array([1]))).toBe("AQ");
  });
});
