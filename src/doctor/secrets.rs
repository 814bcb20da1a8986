//! The controls on identity and secrets: identity headers, token lifetimes, credentials in URLs and files, the
//! store's place and modes, signing keys and the password hasher's parameters. Pure judgements of [`Facts`];
//! never reads a secret's value into a message.
use super::*;

pub(super) fn identity(c: &Config, out: &mut Vec<Check>) {
    embedded_demo(
        c,
        "identity",
        "user id taken from the verified token's sub; the built-in pool and client; no client identity \
         header forwarded",
        out,
    );
    for r in &c.runtimes {
        let forwarded: Vec<&String> = r
            .request_header_allowlist
            .iter()
            .filter(|h| {
                let h = h.to_ascii_lowercase();
                IDENTITY_HEADERS.contains(&h.as_str())
                    || h.contains("user")
                    || h.contains("identity")
                    || h.contains("token")
            })
            .collect();
        let open_authorizer = r
            .authorizer
            .as_ref()
            .is_some_and(|a| a.allowed_clients.is_empty() && a.allowed_audience.is_empty());
        if !forwarded.is_empty() {
            out.push(Check::fail(
                "identity",
                r.name.clone(),
                format!(
                    "request_header_allowlist forwards {} from clients",
                    join(&forwarded)
                ),
                "remove them: the agent must take the user only from X-Amzn-Bedrock-AgentCore-Runtime-User-Id, \
                 which gatehouse derives from the token",
            ));
        } else if open_authorizer {
            out.push(Check::fail(
                "identity",
                r.name.clone(),
                "the authorizer accepts any client or audience of its issuer",
                "set allowed_clients (Cognito access tokens) or allowed_audience",
            ));
        } else {
            out.push(Check::pass(
                "identity",
                r.name.clone(),
                "user id from the verified token only; client identity headers stripped",
            ));
        }
    }
}

pub(super) fn tokens(f: &Facts, out: &mut Vec<Check>) {
    let l = &f.lifetimes;
    if l.access > MAX_TOKEN_LIFETIME_SECS
        || l.id > MAX_TOKEN_LIFETIME_SECS
        || l.refresh > MAX_REFRESH_LIFETIME_SECS
        || l.access <= 0
        || l.id <= 0
    {
        out.push(Check::fail(
            "token-lifetime",
            "idp",
            format!(
                "access {} s, ID {} s, refresh {} s",
                l.access, l.id, l.refresh
            ),
            format!(
                "keep access and ID tokens ≤ {MAX_TOKEN_LIFETIME_SECS} s and refresh tokens ≤ {} days",
                MAX_REFRESH_LIFETIME_SECS / 86_400
            ),
        ));
    } else {
        out.push(Check::pass(
            "token-lifetime",
            "idp",
            format!(
                "access {} min, ID {} min, refresh {} days",
                l.access / 60,
                l.id / 60,
                l.refresh / 86_400
            ),
        ));
    }
    let unrotated_long: Vec<&str> = f
        .clients
        .iter()
        .filter(|(_, rotation, validity)| !rotation && *validity > MAX_REFRESH_LIFETIME_SECS)
        .map(|(name, _, _)| name.as_str())
        .collect();
    if f.refresh_flow_served && !unrotated_long.is_empty() {
        out.push(Check::fail(
            "refresh-rotation",
            "idp",
            format!("clients {} exchange refresh tokens living over {} days without rotation", unrotated_long.join(", "), MAX_REFRESH_LIFETIME_SECS / 86_400),
            "enable rotation (gatehouse client create --rotation) or shorten --refresh-token-validity",
        ));
    } else if f.refresh_flow_served {
        let rotating = f.clients.iter().filter(|(_, r, _)| *r).count();
        out.push(Check::pass(
            "refresh-rotation",
            "idp",
            format!(
                "refresh tokens are stored hashed, revocable, and a replayed rotated token revokes its family; rotation on for {rotating} of {} clients",
                f.clients.len()
            ),
        ));
    } else {
        out.push(Check::pass(
            "refresh-rotation",
            "idp",
            "this build exchanges no refresh token (REFRESH_TOKEN_AUTH is refused), so none can be replayed",
        ));
    }
}

pub(super) fn credentials(f: &Facts, c: &Config, out: &mut Vec<Check>) {
    let mut urls: Vec<(String, String)> = Vec::new();
    for (k, v) in [
        ("[web] public_url", &c.web_public_url),
        ("[idp] public_url", &c.idp_public_url),
        ("[gateway] public_url", &c.gateway_public_url),
    ] {
        if let Some(u) = v {
            urls.push((k.to_string(), u.to_string()));
        }
    }
    for r in &c.runtimes {
        for (n, u) in &r.versions {
            urls.push((
                format!("runtime {} version {n} upstream", r.name),
                u.to_string(),
            ));
        }
        if let Some(a) = &r.authorizer {
            urls.push((
                format!("runtime {} discovery_url", r.name),
                a.discovery_url.to_string(),
            ));
        }
    }
    let with_secret: Vec<String> = urls
        .iter()
        .filter(|(_, u)| has_userinfo(u))
        .map(|(k, _)| k.clone())
        .collect();
    if with_secret.is_empty() {
        out.push(Check::pass(
            "credentials",
            "urls",
            "no URL carries a user name or password; gatehouse ships no default user or password",
        ));
    } else {
        out.push(Check::fail(
            "credentials",
            "urls",
            format!("credentials embedded in {}", with_secret.join(", ")),
            "remove user:password@ from URLs; never put credentials in the configuration file",
        ));
    }
    let plain_discovery: Vec<String> = c
        .runtimes
        .iter()
        .filter_map(|r| r.authorizer.as_ref().map(|a| (r, a)))
        .filter(|(_, a)| {
            a.discovery_url.starts_with("http://")
                && !url_host(&a.discovery_url).is_some_and(host_is_loopback)
        })
        .map(|(r, _)| r.name.clone())
        .collect();
    if plain_discovery.is_empty() {
        out.push(Check::pass(
            "jwks-transport",
            "authorizers",
            "every discovery URL is https:// or on loopback",
        ));
    } else {
        out.push(Check::fail(
            "jwks-transport",
            "authorizers",
            format!(
                "discovery over plain http off loopback for {}",
                plain_discovery.join(", ")
            ),
            "use the IdP's https:// discovery URL so signing keys cannot be swapped in transit",
        ));
    }
    // The database is reachable by others only through a directory they may traverse: a 644 file inside a 700
    // directory is private.
    if f.data_dir_mode.is_some_and(|m| m & 0o077 != 0) {
        out.push(Check::fail(
            "credentials",
            "data-dir",
            format!(
                "the data directory ({}, database {}) is open to other users",
                mode(f.data_dir_mode),
                mode(f.db_mode)
            ),
            "chmod 700 the data directory and 600 gatehouse.db (they hold password hashes and signing keys)",
        ));
    } else {
        out.push(Check::pass(
            "credentials",
            "data-dir",
            match (f.data_dir_mode, f.db_mode) {
                (None, _) => "no data directory yet (up creates it with mode 700)".to_string(),
                (d, db) => format!(
                    "data directory {} and database {} are private",
                    mode(d),
                    mode(db)
                ),
            },
        ));
    }
}

/// A SQLite file outside the data directory does not get the directory's 0700: it and its directory must be
/// private themselves (`up` creates and keeps the file 0600; the directory is the operator's).
pub(super) fn db_outside(f: &Facts, out: &mut Vec<Check>) {
    let Some((path, file, dir)) = &f.db_outside else {
        return;
    };
    let open = |m: &Option<u32>, bits: u32| m.is_some_and(|m| m & bits != 0);
    if open(file, 0o077) || open(dir, 0o022) {
        out.push(Check::fail(
            "credentials",
            "database",
            format!(
                "the database {} is outside the data directory and open to other users (file {}, directory {})",
                path.display(),
                mode(*file),
                mode(*dir)
            ),
            "chmod 600 the database file and make its directory writable by gatehouse's user only (or keep it \
             in the data directory)",
        ));
    } else {
        out.push(Check::pass(
            "credentials",
            "database",
            format!(
                "the database {} is outside the data directory; file {} and directory {} are not open to others",
                path.display(),
                mode(*file),
                mode(*dir)
            ),
        ));
    }
}

fn mode(m: Option<u32>) -> String {
    m.map_or("-".into(), |m| format!("{:o}", m & 0o777))
}

pub(super) fn keys(f: &Facts, out: &mut Vec<Check>) {
    let Some(keys) = &f.keys else {
        out.push(Check::pass(
            "signing-keys",
            "idp",
            "no database yet: a fresh RSA-2048 key is generated on first start",
        ));
        return;
    };
    let Some(newest) = keys.iter().max_by_key(|k| k.created_at) else {
        out.push(Check::fail(
            "signing-keys",
            "idp",
            "the user pool has no signing key",
            "start `gatehouse up` once on this data directory to generate one",
        ));
        return;
    };
    let age = f.now_unix - newest.created_at;
    let weak: Vec<&str> = keys
        .iter()
        .filter(|k| k.modulus_bits < MIN_RSA_BITS)
        .map(|k| k.kid.as_str())
        .collect();
    if !weak.is_empty() {
        out.push(Check::fail(
            "signing-keys",
            "idp",
            format!(
                "key(s) {} are shorter than {MIN_RSA_BITS} bits",
                weak.join(", ")
            ),
            "rotate to a new RSA-2048 (or longer) key and retire the short ones",
        ));
    } else if age > MAX_KEY_AGE_SECS {
        out.push(Check::fail(
            "signing-keys",
            "idp",
            format!(
                "the newest signing key ({}) is {} days old",
                newest.kid,
                age / 86_400
            ),
            format!(
                "rotate the signing key at least every {} days",
                MAX_KEY_AGE_SECS / 86_400
            ),
        ));
    } else {
        out.push(Check::pass(
            "signing-keys",
            "idp",
            format!(
                "{} key(s), newest {} is {} days old, all ≥ {MIN_RSA_BITS} bits",
                keys.len(),
                newest.kid,
                age.max(0) / 86_400
            ),
        ));
    }
}

pub(super) fn argon2(f: &Facts, out: &mut Vec<Check>) {
    match &f.argon2 {
        Some(p)
            if p.algorithm == "argon2id"
                && p.memory_kib >= MIN_ARGON2_MEMORY_KIB
                && p.passes >= 2
                && p.lanes >= 1 =>
        {
            out.push(Check::pass(
                "argon2",
                "idp",
                format!(
                    "{} m={} KiB t={} p={}",
                    p.algorithm, p.memory_kib, p.passes, p.lanes
                ),
            ));
        }
        Some(p) => out.push(Check::fail(
            "argon2",
            "idp",
            format!(
                "{} m={} KiB t={} p={}",
                p.algorithm, p.memory_kib, p.passes, p.lanes
            ),
            format!("use argon2id with m ≥ {MIN_ARGON2_MEMORY_KIB} KiB, t ≥ 2, p ≥ 1 (OWASP)"),
        )),
        None => out.push(Check::fail(
            "argon2",
            "idp",
            "the password hasher produced no readable argon2 hash",
            "check the build's password hashing",
        )),
    }
}
