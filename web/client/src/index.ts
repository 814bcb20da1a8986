// @gatehouse/client: what a browser app needs to sign in to gatehouse's IdP (or Amazon Cognito) and call an agent
// through its gateway (or AgentCore Runtime). Everything it needs to know comes from /config.json at run time.
export { UserPool, CognitoError, ChallengeRequired, describeError, call, type AuthenticationResult, type PoolSettings, type SignInFlow } from "./cognito.ts";
export { TokenStore, SignedOut, decodeClaims, DEFAULT_MARGIN_MS, type StoredTokens, type TokenStorage, type TokenChange, type TokenStoreOptions } from "./tokens.ts";
export { invoke, invocationsUrl, InvokeError, SESSION_HEADER, type Invocation, type InvokeOptions, type RuntimeTarget } from "./invoke.ts";
export { connect, AgentSocket, wsUrl, subprotocols, SUBPROTOCOL, REAUTH, REAUTH_OK, REAUTH_ERROR, CLOSE_UNAUTHORIZED, type ConnectOptions, type WebSocketLike, type WebSocketCtor } from "./ws.ts";
export { McpClient, McpError, MCP_PROTOCOL_VERSION, MCP_SUPPORTED_VERSIONS, MCP_SESSION_HEADER, MCP_PROTOCOL_HEADER, type McpClientOptions, type McpTool, type McpToolResult, type McpContent, type McpInitializeResult } from "./mcp.ts";
export { SseParser, readSse, type SseEvent } from "./sse.ts";
export { newSessionId, isValidSessionId, base64Url } from "./session.ts";
export { loadConfig, parseConfig, type AppConfig, type OAuthConfig, type RuntimeInfo, type RuntimeProtocol } from "./config.ts";
export { beginHostedSignIn, completeHostedSignIn, isHostedCallback, hostedSignOutUrl, authorizeUrl, pkceChallenge, newVerifier, HostedSignInError, type HostedDeps } from "./oauth.ts";
export { cognitoTimestamp } from "./srp.ts";
