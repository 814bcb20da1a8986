// Drives amazon-cognito-identity-js (the Cognito client library of countless web apps) against gatehouse:
// SRP sign-in, then refreshSession, with browser-like storage (getItem answers null for a missing key, as
// window.localStorage does — which is why the library sends "DEVICE_KEY": null). Every request body is captured
// and the member names and null members of the refresh are reported. Reads the endpoint, pool, client and user
// from the environment and the password from stdin; prints one JSON object. Never prints a token or a password.
import { AuthenticationDetails, CognitoRefreshToken, CognitoUser, CognitoUserPool } from "amazon-cognito-identity-js";

class WebStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
  clear() { this.m.clear(); }
}

const bodies = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init) => {
  bodies.push({ target: init?.headers?.["X-Amz-Target"] ?? "", body: init?.body ?? "" });
  return realFetch(url, init);
};

const password = (await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
})).trim();
const { ENDPOINT, POOL_ID, CLIENT_ID, USERNAME } = process.env;
const storage = new WebStorage();
const pool = new CognitoUserPool({ UserPoolId: POOL_ID, ClientId: CLIENT_ID, endpoint: ENDPOINT, Storage: storage });
const user = new CognitoUser({ Username: USERNAME, Pool: pool, Storage: storage });

const out = { library: "amazon-cognito-identity-js" };
try {
  const session = await new Promise((resolve, reject) =>
    user.authenticateUser(new AuthenticationDetails({ Username: USERNAME, Password: password }), {
      onSuccess: resolve,
      onFailure: reject,
      newPasswordRequired: () => reject(new Error("unexpected NEW_PASSWORD_REQUIRED")),
    }),
  );
  out.signed_in = session.isValid();
  const before = session.getAccessToken().getJwtToken();
  const refresh = new CognitoRefreshToken({ RefreshToken: session.getRefreshToken().getToken() });
  const renewed = await new Promise((resolve, reject) =>
    user.refreshSession(refresh, (err, s) => (err ? reject(err) : resolve(s))),
  );
  out.refreshed = renewed.isValid();
  out.new_access_token = renewed.getAccessToken().getJwtToken() !== before;
  out.refreshed_sub = renewed.getIdToken().decodePayload().sub === session.getIdToken().decodePayload().sub;
} catch (e) {
  out.error = `${e.code ?? e.name}: ${e.message}`;
}
const req = bodies.map((b) => JSON.parse(b.body || "{}")).find((b) => b.AuthFlow === "REFRESH_TOKEN_AUTH");
if (req) {
  const params = req.AuthParameters ?? {};
  out.refresh_auth_parameters = Object.keys(params).sort();
  out.refresh_null_members = Object.keys(params).filter((k) => params[k] === null).sort();
}
out.targets = bodies.map((b) => b.target.replace("AWSCognitoIdentityProviderService.", ""));
console.log(JSON.stringify(out));
