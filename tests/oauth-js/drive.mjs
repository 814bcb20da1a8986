// Drives openid-client (a widely used OAuth 2 / OpenID Connect client library) against gatehouse: discovery of
// the issuer, the client-credentials grant with a resource indicator, the refresh-token grant with a refresh token
// from a sign-in, and userinfo. Reads ISSUER, the clients and the refresh token's client from the environment,
// the refresh token from stdin; prints one JSON object. Never prints a token or a secret.
import * as client from "openid-client";

const { ISSUER, M2M_ID, M2M_SECRET, SCOPE, RESOURCE, APP_ID } = process.env;
const refreshToken = (await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
})).trim();
const insecure = { execute: [client.allowInsecureRequests] };
const report = {};
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
try {
  const m2m = await client.discovery(new URL(ISSUER), M2M_ID, M2M_SECRET, client.ClientSecretBasic(M2M_SECRET), insecure);
  report.discovered_issuer = m2m.serverMetadata().issuer;
  const cc = await client.clientCredentialsGrant(m2m, { scope: SCOPE, resource: RESOURCE });
  const c = claimsOf(cc.access_token);
  report.client_credentials = { token_type: cc.token_type, sub: c.sub, scope: c.scope, aud: c.aud, id_token: "id_token" in cc };

  const app = await client.discovery(new URL(ISSUER), APP_ID, undefined, client.None(), insecure);
  const refreshed = await client.refreshTokenGrant(app, refreshToken);
  const claims = refreshed.claims();
  report.refresh = { access_token: typeof refreshed.access_token === "string", id_sub: claims?.sub, username: claims?.["cognito:username"] };
  const info = await client.fetchUserInfo(app, refreshed.access_token, claims.sub);
  report.userinfo = { sub: info.sub, username: info.username, email: info.email };
} catch (e) {
  report.error = `${e?.name}: ${e?.message} ${e?.code ?? ""} ${JSON.stringify(e?.error ?? "")}`;
}
console.log(JSON.stringify(report));
