//! The identity provider: Cognito's operations, SRP, refresh, accounts, the admin API, the schema, and a real Cognito
//! client library. Test modules only; owns no production code.
pub mod account;
pub mod admin;
pub mod basics;
pub mod client_lib;
pub mod hosted_signin_client;
pub mod oauth_audience;
pub mod oauth_authorize;
pub mod oauth_cli;
pub mod oauth_client_lib;
pub mod oauth_code_grant;
pub mod oauth_hosted;
pub mod oauth_hosted_password;
pub mod oauth_logout;
pub mod oauth_metadata_doc;
pub mod oauth_refresh;
pub mod oauth_register;
pub mod oauth_revoke;
pub mod oauth_token;
pub mod oauth_userinfo;
pub mod refresh;
pub mod schema;
pub mod srp;
