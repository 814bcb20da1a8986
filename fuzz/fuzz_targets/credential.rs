//! The gateway's credential parsers: `Authorization` (one or two values) and the WebSocket subprotocol list,
//! plus the query-string token refusal. The input is split at the first 0xff byte into two header values.
//! Must never panic.
#![no_main]
use gatehouse::gateway::credential::{parse_bearer, parse_ws_credential, refuse_query_token};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == 0xff);
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    for name in ["authorization", "sec-websocket-protocol"] {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(first) {
            headers.append(name, v);
        }
        if let Some(Ok(v)) = second.map(HeaderValue::from_bytes) {
            headers.append(name, v);
        }
        let _ = parse_bearer(&headers);
        let _ = parse_ws_credential(&headers);
    }
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = refuse_query_token(Some(q));
    }
});
