//! The statements both backends run alike, written once over `sql::Conn`, one file per aggregate: pools and
//! clients (`pools`), signing keys (`keys`), users (`users`), one-time codes (`codes`), refresh tokens
//! (`tokens`), runtimes, sessions and sign-ins in progress (`sessions`), revocations (`revocations`), OAuth clients, resource servers and codes (`oauth`), clients nobody pre-registered
//! (`registration`). Must never begin or commit a transaction (the callers do) nor take a lock only one backend has.
pub(crate) mod codes;
pub(crate) mod keys;
pub(crate) mod oauth;
pub(crate) mod pools;
pub(crate) mod registration;
pub(crate) mod revocations;
pub(crate) mod sessions;
pub(crate) mod tokens;
pub(crate) mod users;
