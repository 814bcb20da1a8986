// parseConfig's runtimes: each names its protocol, "http" when config.json does not say; anything else is refused.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.ts";

const base = {
  region: "us-east-1",
  idp_url: "http://127.0.0.1:4001/",
  user_pool_id: "us-east-1_AbC",
  client_id: "client1",
  gateway_url: "http://127.0.0.1:4002",
};
const arn = (name: string) => `arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/${name}-AbCdEf1234`;

describe("parseConfig runtimes", () => {
  it("keeps each runtime's protocol", () => {
    const c = parseConfig({
      ...base,
      runtimes: [
        { name: "demo", arn: arn("demo"), protocol: "http" },
        { name: "demo_mcp", arn: arn("demo_mcp"), protocol: "mcp" },
        { name: "demo_a2a", arn: arn("demo_a2a"), protocol: "a2a" },
      ],
    });
    expect(c.runtimes.map((r) => [r.name, r.protocol])).toEqual([
      ["demo", "http"],
      ["demo_mcp", "mcp"],
      ["demo_a2a", "a2a"],
    ]);
    expect(c.idpUrl).toBe("http://127.0.0.1:4001");
  });

  it("takes a runtime without a protocol for an http one", () => {
    const c = parseConfig({ ...base, runtimes: [{ name: "demo", arn: arn("demo") }] });
    expect(c.runtimes).toEqual([{ name: "demo", arn: arn("demo"), protocol: "http" }]);
  });

  it("refuses a protocol it does not know, and a runtime without a name or ARN", () => {
    expect(() => parseConfig({ ...base, runtimes: [{ name: "x", arn: arn("x"), protocol: "grpc" }] })).toThrow(/protocol/);
    expect(() => parseConfig({ ...base, runtimes: [{ name: "x", arn: arn("x"), protocol: 1 }] })).toThrow(/protocol/);
    expect(() => parseConfig({ ...base, runtimes: [{ arn: arn("x") }] })).toThrow(/name/);
    expect(() => parseConfig({ ...base, runtimes: [{ name: "x" }] })).toThrow(/arn/);
  });
});
