// Drives openid-client (a widely used OAuth 2 / OpenID Connect client library) against gatehouse: discovery of
// the issuer, the client-credentials grant with a resource indicator, the refresh-token grant with a refresh token
// from a sign-in, userinfo, and the authorization code flow with PKCE through the hosted sign-in page (the
// authorization URL built by openid-client, the form fetched and posted like a browser, the redirect handed back
// to authorizationCodeGrant), then refresh and userinfo with those tokens. Reads ISSUER, the clients, the
// callback and the user from the environment, {"refresh", "password"} from stdin; prints one JSON object.
// Never prints a token or a secret.
import * as client from "openid-client";

const { ISSUER, M2M_ID, M2M_SECRET, SCOPE, RESOURCE, APP_ID, CODE_APP_ID, CALLBACK, USERNAME } = process.env;
const secrets = JSON.parse(await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
}));
const refreshToken = secrets.refresh;
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

  // Authorization code + PKCE through the hosted page, followed with plain HTTP like a browser.
  const web = await client.discovery(new URL(ISSUER), CODE_APP_ID, undefined, client.None(), insecure);
  report.authorization_endpoint = web.serverMetadata().authorization_endpoint;
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(web, {
    redirect_uri: CALLBACK,
    scope: "openid email",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const jar = new Map();
  const absorb = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [name, value] = c.split(";")[0].split("=");
      if (/Max-Age=0/.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  let res = await fetch(url, { redirect: "manual" });
  absorb(res);
  const html = await res.text();
  const hidden = (n) => html.match(new RegExp(`name="${n}" value="([^"]*)"`))[1];
  res = await fetch(new URL("/login", url), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookie() },
    body: new URLSearchParams({ request: hidden("request"), csrf: hidden("csrf"), username: USERNAME, password: secrets.password }),
  });
  absorb(res);
  report.login_status = res.status;
  const tokens = await client.authorizationCodeGrant(web, new URL(res.headers.get("location")), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  const idClaims = tokens.claims();
  report.code = { id_sub: idClaims.sub, username: idClaims["cognito:username"], nonce: idClaims.nonce === nonce, at_hash: typeof idClaims.at_hash === "string", sso_cookie: jar.has("gatehouse_sso") };
  const again = await client.refreshTokenGrant(web, tokens.refresh_token);
  report.code_refresh = { access_token: typeof again.access_token === "string", id_sub: again.claims()?.sub };
  const codeInfo = await client.fetchUserInfo(web, again.access_token, idClaims.sub);
  report.code_userinfo = { sub: codeInfo.sub, email: codeInfo.email };
} catch (e) {
  report.error = `${e?.name}: ${e?.message} ${e?.code ?? ""} ${JSON.stringify(e?.error ?? "")}`;
}
console.log(JSON.stringify(report));
