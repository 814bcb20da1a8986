// The Cognito user-pool JSON protocol (AWS JSON 1.1): POST {idp}/ with X-Amz-Target. Public app clients only —
// a browser never holds a client secret, so no SECRET_HASH is ever computed here.
import { srpClaim, srpStart } from "./srp.ts";

/** What a sign-in returns (Cognito's AuthenticationResultType). */
export interface AuthenticationResult {
  AccessToken: string;
  IdToken?: string;
  RefreshToken?: string;
  ExpiresIn: number;
  TokenType?: string;
}

/** A refusal from the IdP, with Cognito's exception name (`NotAuthorizedException`, …). */
export class CognitoError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status: number) {
    super(message);
    this.name = "CognitoError";
    this.type = type;
    this.status = status;
  }
}

/** Where the user pool is. */
export interface PoolSettings {
  idpUrl: string;
  userPoolId: string;
  clientId: string;
}

export type SignInFlow = "USER_SRP_AUTH" | "USER_PASSWORD_AUTH";

/** A challenge the app must answer before tokens are issued (only NEW_PASSWORD_REQUIRED is expected). */
export class ChallengeRequired extends Error {
  readonly challenge: string;
  readonly session: string | undefined;
  readonly username: string;
  constructor(challenge: string, session: string | undefined, username: string) {
    super(`the identity provider asks for ${challenge}`);
    this.name = "ChallengeRequired";
    this.challenge = challenge;
    this.session = session;
    this.username = username;
  }
}

type Json = Record<string, unknown>;

/** Calls one Cognito operation; throws CognitoError for a refusal, a plain Error when the IdP cannot be reached. */
export async function call<T = Json>(
  idpUrl: string,
  operation: string,
  body: Json,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): Promise<T> {
  let resp: Response;
  try {
    resp = await fetchImpl(idpUrl.replace(/\/+$/, "") + "/", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`cannot reach the identity provider (${(e as Error).message})`, { cause: e });
  }
  const text = await resp.text();
  let parsed: Json;
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = { message: text };
  }
  if (!resp.ok) {
    const rawType =
      (typeof parsed["__type"] === "string" ? parsed["__type"] : undefined) ??
      resp.headers.get("x-amzn-errortype") ??
      "UnknownError";
    // Cognito sometimes qualifies the type ("…#NotAuthorizedException" or "NotAuthorizedException:…").
    const type = rawType.split("#").pop()!.split(":")[0]!;
    const message =
      (typeof parsed["message"] === "string" && parsed["message"]) ||
      (typeof parsed["Message"] === "string" && parsed["Message"]) ||
      `${operation} failed with HTTP ${resp.status}`;
    throw new CognitoError(type, message, resp.status);
  }
  return parsed as T;
}

interface AuthResponse {
  AuthenticationResult?: AuthenticationResult;
  ChallengeName?: string;
  ChallengeParameters?: Record<string, string>;
  Session?: string;
}

function result(r: AuthResponse, username: string): AuthenticationResult {
  if (r.AuthenticationResult) return r.AuthenticationResult;
  throw new ChallengeRequired(r.ChallengeName ?? "UNKNOWN", r.Session, username);
}

/** The user-pool operations a browser app needs. */
export class UserPool {
  readonly settings: PoolSettings;
  private readonly fetchImpl: typeof fetch;

  constructor(settings: PoolSettings, fetchImpl?: typeof fetch) {
    this.settings = settings;
    this.fetchImpl = fetchImpl ?? globalThis.fetch.bind(globalThis);
  }

  call<T = Json>(operation: string, body: Json): Promise<T> {
    return call<T>(this.settings.idpUrl, operation, body, this.fetchImpl);
  }

  /** Signs in with SRP (the password never leaves the browser) or with USER_PASSWORD_AUTH. */
  async signIn(
    username: string,
    password: string,
    flow: SignInFlow = "USER_SRP_AUTH",
  ): Promise<AuthenticationResult> {
    const ClientId = this.settings.clientId;
    if (flow === "USER_PASSWORD_AUTH") {
      const r = await this.call<AuthResponse>("InitiateAuth", {
        AuthFlow: "USER_PASSWORD_AUTH",
        ClientId,
        AuthParameters: { USERNAME: username, PASSWORD: password },
      });
      return result(r, username);
    }
    const start = srpStart();
    const challenge = await this.call<AuthResponse>("InitiateAuth", {
      AuthFlow: "USER_SRP_AUTH",
      ClientId,
      AuthParameters: { USERNAME: username, SRP_A: start.aHex },
    });
    if (challenge.ChallengeName !== "PASSWORD_VERIFIER" || !challenge.ChallengeParameters) {
      return result(challenge, username);
    }
    const p = challenge.ChallengeParameters;
    const userId = p["USER_ID_FOR_SRP"] ?? username;
    const claim = await srpClaim(start, {
      userPoolId: this.settings.userPoolId,
      userIdForSrp: userId,
      password,
      saltHex: p["SALT"] ?? "",
      bHex: p["SRP_B"] ?? "",
      secretBlock: p["SECRET_BLOCK"] ?? "",
    });
    const r = await this.call<AuthResponse>("RespondToAuthChallenge", {
      ChallengeName: "PASSWORD_VERIFIER",
      ClientId,
      ChallengeResponses: {
        USERNAME: userId,
        PASSWORD_CLAIM_SECRET_BLOCK: p["SECRET_BLOCK"],
        TIMESTAMP: claim.timestamp,
        PASSWORD_CLAIM_SIGNATURE: claim.signature,
      },
    });
    return result(r, username);
  }

  /** Answers NEW_PASSWORD_REQUIRED (a user created with a temporary password). */
  async completeNewPassword(c: ChallengeRequired, newPassword: string): Promise<AuthenticationResult> {
    const r = await this.call<AuthResponse>("RespondToAuthChallenge", {
      ChallengeName: "NEW_PASSWORD_REQUIRED",
      ClientId: this.settings.clientId,
      Session: c.session,
      ChallengeResponses: { USERNAME: c.username, NEW_PASSWORD: newPassword },
    });
    return result(r, c.username);
  }

  /** New access and ID tokens (and a new refresh token when the client rotates them). */
  async refresh(refreshToken: string): Promise<AuthenticationResult> {
    const r = await this.call<AuthResponse>("GetTokensFromRefreshToken", {
      ClientId: this.settings.clientId,
      RefreshToken: refreshToken,
    });
    if (!r.AuthenticationResult) throw new CognitoError("InvalidResponse", "no tokens in the answer", 200);
    return r.AuthenticationResult;
  }

  signUp(username: string, password: string, email: string): Promise<{ UserConfirmed: boolean; UserSub: string }> {
    return this.call("SignUp", {
      ClientId: this.settings.clientId,
      Username: username,
      Password: password,
      UserAttributes: email ? [{ Name: "email", Value: email }] : [],
    });
  }

  async confirmSignUp(username: string, code: string): Promise<void> {
    await this.call("ConfirmSignUp", {
      ClientId: this.settings.clientId,
      Username: username,
      ConfirmationCode: code,
    });
  }

  async resendCode(username: string): Promise<void> {
    await this.call("ResendConfirmationCode", { ClientId: this.settings.clientId, Username: username });
  }

  async forgotPassword(username: string): Promise<void> {
    await this.call("ForgotPassword", { ClientId: this.settings.clientId, Username: username });
  }

  async confirmForgotPassword(username: string, code: string, password: string): Promise<void> {
    await this.call("ConfirmForgotPassword", {
      ClientId: this.settings.clientId,
      Username: username,
      ConfirmationCode: code,
      Password: password,
    });
  }

  /** Revokes a refresh token and every access token issued with it (sign-out). */
  async revoke(refreshToken: string): Promise<void> {
    await this.call("RevokeToken", { ClientId: this.settings.clientId, Token: refreshToken });
  }
}

/** A sentence a person can act on, for an IdP refusal. */
export function describeError(e: unknown): string {
  if (e instanceof CognitoError) {
    switch (e.type) {
      case "NotAuthorizedException":
        return e.message.includes("attempts")
          ? "Too many failed sign-ins. Wait a few minutes and try again."
          : `Sign-in refused: ${e.message}`;
      case "UserNotConfirmedException":
        return "This account is not confirmed yet. Enter the code from the confirmation e-mail.";
      case "UsernameExistsException":
        return "That username is taken. Choose another or sign in.";
      case "InvalidPasswordException":
        return `The password does not meet the policy: ${e.message}`;
      case "CodeMismatchException":
        return "That code is wrong. Check the e-mail and try again.";
      case "ExpiredCodeException":
        return "That code has expired. Ask for a new one.";
      case "TooManyRequestsException":
      case "LimitExceededException":
        return "Too many requests. Wait a moment and try again.";
      case "InvalidParameterException":
        return `Check the form: ${e.message}`;
      default:
        return `${e.type}: ${e.message}`;
    }
  }
  if (e instanceof ChallengeRequired) return e.message;
  return e instanceof Error ? e.message : String(e);
}
