//! The OAuth 2.1 / OpenID Connect authorization server at Cognito's managed-login paths: redirect-URI rules
//! (`redirect`), scopes (`scopes`), form parameters (`params`), the token endpoint (`token`; the
//! authorization-code exchange in `code_grant`), revocation (`revoke`), userinfo (`userinfo`), sign-out
//! (`logout`), the OAuth error body (`error`), the authorization-server metadata (`metadata`), and clients nobody
//! pre-registered: which client a `client_id` names (`clients::resolve`), RFC 7591 registration (`register`),
//! Client ID Metadata Documents (`client_metadata`) and their SSRF-checked fetch (`fetch`). Reuses the
//! IdP's client checks (`client_auth`), minting (`mint`), refresh (`refresh`), token verification (`user_api`)
//! and throttling. Must never log a code, token or secret, nor redirect to a URL the client did not register.
pub mod client_metadata;
pub mod clients;
pub mod code_grant;
pub mod error;
pub mod fetch;
pub mod logout;
pub mod metadata;
pub mod params;
pub mod redirect;
pub mod register;
pub mod revoke;
pub mod scopes;
pub mod token;
pub mod userinfo;
