//! The OAuth 2.1 / OpenID Connect authorization server at Cognito's managed-login paths: the authorization
//! endpoint (`authorize`; the request and its redirects in `request`), the hosted sign-in and consent forms
//! (`signin`; parking and CSRF in `form`; rendered by `page`), the change-password form of a temporary
//! password (`new_password`), sign-up, confirm and forgot-password forms (`account_pages`), the SSO session and cookies (`sso`), redirect-URI rules
//! (`redirect`), scopes (`scopes`), form parameters (`params`), the token endpoint (`token`; the
//! authorization-code exchange in `code_grant`), revocation (`revoke`), userinfo (`userinfo`), sign-out
//! (`logout`), the OAuth error body (`error`), the authorization-server metadata (`metadata`), and clients nobody
//! pre-registered: which client a `client_id` names (`clients::resolve`), RFC 7591 registration (`register`),
//! Client ID Metadata Documents (`client_metadata`) and their SSRF-checked fetch (`fetch`). Reuses the
//! IdP's client checks (`client_auth`), minting (`mint`), refresh (`refresh`), token verification (`user_api`)
//! and throttling. Must never log a code, token or secret, nor redirect to a URL the client did not register.
pub mod account_pages;
pub mod authorize;
pub mod client_metadata;
pub mod clients;
pub mod code_grant;
pub mod error;
pub mod fetch;
pub mod form;
pub mod logout;
pub mod metadata;
pub mod new_password;
pub mod page;
pub mod params;
pub mod redirect;
pub mod register;
pub mod request;
pub mod revoke;
pub mod scopes;
pub mod signin;
pub mod sso;
pub mod token;
pub mod userinfo;
