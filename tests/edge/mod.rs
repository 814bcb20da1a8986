//! The edge and the web client: the single-page app's site, the TypeScript client against a real gateway, and the
//! constants the client shares with the server. Test modules only; owns no production code.
pub mod site;
pub mod web_client;
pub mod web_contract;
