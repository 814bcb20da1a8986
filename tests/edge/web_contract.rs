//! The constants the browser client (`web/client/src`) shares with the gateway — the session header, the token
//! subprotocol, the WebSocket close code for a dead token and the in-band reauth message types — read from the
//! TypeScript sources and checked against the Rust ones, so neither side can change one alone.
use std::collections::HashMap;

use gatehouse::gateway::{credential, forward, ws};

/// `export const NAME = "text";` or `export const NAME = 123;` from every file of web/client/src.
fn client_constants() -> HashMap<String, String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/client/src");
    let mut out = HashMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ts") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let Some(rest) = line.trim().strip_prefix("export const ") else {
                continue;
            };
            let Some((name, value)) = rest.split_once(" = ") else {
                continue;
            };
            let value = value.trim().trim_end_matches(';').trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            let prior = out.insert(name.trim().to_string(), value.to_string());
            assert!(
                prior.is_none(),
                "{name} is exported twice in web/client/src"
            );
        }
    }
    out
}

fn constant<'a>(all: &'a HashMap<String, String>, name: &str) -> &'a str {
    all.get(name)
        .unwrap_or_else(|| panic!("web/client/src exports no constant {name}"))
}

#[test]
fn the_browser_client_and_the_gateway_agree_on_every_shared_constant() {
    let c = client_constants();
    assert!(
        constant(&c, "SESSION_HEADER").eq_ignore_ascii_case(forward::SESSION_HEADER),
        "session header"
    );
    assert_eq!(constant(&c, "SUBPROTOCOL"), credential::WS_PROTOCOL);
    assert_eq!(
        constant(&c, "CLOSE_UNAUTHORIZED"),
        ws::CLOSE_UNAUTHORIZED.to_string()
    );
    assert_eq!(constant(&c, "REAUTH"), ws::REAUTH_TYPE);
    assert_eq!(constant(&c, "REAUTH_OK"), ws::REAUTH_OK_TYPE);
    assert_eq!(constant(&c, "REAUTH_ERROR"), ws::REAUTH_ERROR_TYPE);
}

#[test]
fn the_contract_reader_sees_a_divergence() {
    // The reader must parse what it compares: a constant it cannot read would make the check above vacuous.
    let c = client_constants();
    assert_eq!(
        constant(&c, "CLOSE_UNAUTHORIZED").parse::<u16>().ok(),
        Some(4401)
    );
    assert!(constant(&c, "REAUTH").starts_with("gatehouse."));
    assert_ne!(constant(&c, "REAUTH_OK"), constant(&c, "REAUTH_ERROR"));
}
