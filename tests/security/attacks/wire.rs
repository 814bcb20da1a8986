//! Attack class: HTTP-level abuse on every listener (request smuggling, slowloris). Owns no production code.
use super::*;

// === HTTP request smuggling ===

#[tokio::test]
async fn request_smuggling_is_refused_on_every_listener() {
    let g = shared();
    let quiet = Duration::from_secs(3);
    let mut rows = Vec::new();
    // The suffix would be a second request if the listener framed the body by Content-Length while a proxy in
    // front framed it by Transfer-Encoding (or the reverse). RFC 9112 §6.3: such a request "ought to be handled
    // as an error" and the server MUST close the connection after responding.
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let cases: Vec<(&str, &str, String)> = vec![
        ("CL + TE (CL.TE)", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}")),
        ("TE + CL (TE.CL)", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n{smuggled}")),
        ("two different Content-Length", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n{smuggled}")),
        ("Content-Length: 0, 40 (list)", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 40\r\n\r\n{smuggled}")),
        ("Content-Length: +5", "x1 closed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello".into()),
        ("space before the colon", "x1 closed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello".into()),
        ("Transfer-Encoding: xchunked", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}")),
        ("Transfer-Encoding: chunked, identity", "x1 closed", format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}")),
        ("obs-fold continuation line", "x1 closed", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n".into()),
        ("chunk size overflow", "x1 closed", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\na\r\n0\r\n\r\n".into()),
        ("no Host header (HTTP/1.1; gatehouse does not route by Host)", "x1 closed | x1 open", "GET / HTTP/1.1\r\n\r\n".into()),
    ];
    for (listener, url) in [
        ("gateway", &g.endpoints.gateway),
        ("idp", &g.endpoints.idp),
        ("web", &g.endpoints.web),
        ("admin", &g.endpoints.admin),
    ] {
        let addr = authority(url);
        for (name, expected, bytes) in &cases {
            let a = raw(&addr, bytes.as_bytes(), quiet).await;
            // The status does not matter (400, or 404/405 for the route); what matters is that exactly one
            // request was answered and the connection was closed, so nothing after the body is ever parsed.
            let got = format!(
                "x{} {}",
                a.statuses.len(),
                if a.closed { "closed" } else { "open" }
            );
            rows.push(Row::new(format!("{listener}: {name}"), *expected, got));
        }
    }
    report("HTTP request smuggling", &rows);
}

// === slowloris ===

/// Every listener must drop a connection that trickles its request headers, within a bound.
#[tokio::test]
async fn slowloris_is_dropped_on_every_listener() {
    let g = shared();
    let limit = Duration::from_secs(45);
    let every = Duration::from_secs(2);
    let listeners = [
        ("web", authority(&g.endpoints.web)),
        ("idp", authority(&g.endpoints.idp)),
        ("gateway", authority(&g.endpoints.gateway)),
        ("admin", authority(&g.endpoints.admin)),
    ];
    let probes = listeners
        .iter()
        .map(|(_, addr)| slowloris(addr, every, limit));
    let results = futures_util::future::join_all(probes).await;
    let rows: Vec<Row> = listeners
        .iter()
        .zip(results)
        .map(|((name, _), r)| {
            Row::new(
                format!("{name}: one header line every 2 s"),
                "dropped within 40 s",
                match r {
                    Some(d) if d <= Duration::from_secs(40) => "dropped within 40 s".to_string(),
                    Some(d) => format!("dropped after {}s", d.as_secs()),
                    None => format!("still open after {}s", limit.as_secs()),
                },
            )
        })
        .collect();
    report("slowloris", &rows);
}
