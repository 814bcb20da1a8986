import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CognitoError, UserPool, describeError } from "../src/cognito.ts";

// A stand-in IdP that records what it got and answers like Cognito.
const seen: { target: string; type: string; body: Record<string, unknown> }[] = [];
let server: http.Server;
let url = "";
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      const body = JSON.parse(data) as Record<string, unknown>;
      seen.push({ target: String(req.headers["x-amz-target"]), type: String(req.headers["content-type"]), body });
      if (req.headers["x-amz-target"] === "AWSCognitoIdentityProviderService.InitiateAuth") {
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "NotAuthorizedException" });
        res.end(JSON.stringify({ __type: "NotAuthorizedException", message: "Incorrect username or password." }));
      } else if (req.headers["x-amz-target"] === "AWSCognitoIdentityProviderService.ConfirmSignUp") {
        res.writeHead(400, { "x-amzn-errortype": "CodeMismatchException:http://internal" }).end("{}");
      } else {
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" }).end("{}");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("UserPool", () => {
  it("speaks the JSON 1.1 protocol and maps refusals to CognitoError", async () => {
    const pool = new UserPool({ idpUrl: url, userPoolId: "us-east-1_AbC", clientId: "client1" });
    const e = await pool.signIn("alice", "pw", "USER_PASSWORD_AUTH").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CognitoError);
    expect((e as CognitoError).type).toBe("NotAuthorizedException");
    expect(describeError(e)).toBe("Sign-in refused: Incorrect username or password.");
    const last = seen.at(-1)!;
    expect(last.target).toBe("AWSCognitoIdentityProviderService.InitiateAuth");
    expect(last.type).toBe("application/x-amz-json-1.1");
    expect(last.body).toEqual({ AuthFlow: "USER_PASSWORD_AUTH", ClientId: "client1", AuthParameters: { USERNAME: "alice", PASSWORD: "pw" } });
    // The exception name may only be in the header, qualified.
    const c = await pool.confirmSignUp("alice", "123456").catch((x: unknown) => x);
    expect((c as CognitoError).type).toBe("CodeMismatchException");
    expect(describeError(c)).toMatch(/code is wrong/);
    await pool.revoke("rt");
    expect(seen.at(-1)!.body).toEqual({ ClientId: "client1", Token: "rt" });
  });

  it("SRP sends only A, never the password", async () => {
    const pool = new UserPool({ idpUrl: url, userPoolId: "us-east-1_AbC", clientId: "client1" });
    await pool.signIn("bob", "s3cret-Pw!", "USER_SRP_AUTH").catch(() => undefined);
    const body = seen.at(-1)!.body as { AuthFlow: string; AuthParameters: Record<string, string> };
    expect(body.AuthFlow).toBe("USER_SRP_AUTH");
    expect(Object.keys(body.AuthParameters).sort()).toEqual(["SRP_A", "USERNAME"]);
    expect(JSON.stringify(seen)).not.toContain("s3cret-Pw!");
  });

  it("an unreachable IdP gives a plain error that says so", async () => {
    const pool = new UserPool({ idpUrl: "http://127.0.0.1:9", userPoolId: "us-east-1_AbC", clientId: "c" });
    await expect(pool.forgotPassword("x")).rejects.toThrow(/cannot reach the identity provider/);
  });
});
