//! Attack class: path escapes on the edge (nothing outside its root is served). Owns no production code.
use super::*;

// === path escapes on the edge ===
// Here against the placeholder edge (no web root); the same escapes against a served web root with dotfiles and
// symlinks out of it are the table "edge path escapes (with a web root)" in `tests/edge/site.rs`.

#[tokio::test]
async fn the_edge_serves_nothing_outside_its_root() {
    let g = shared();
    let web = authority(&g.endpoints.web);
    let quiet = Duration::from_secs(2);
    let data_dir = g.dir.display().to_string();
    let paths = [
        "/../../../../../../etc/passwd".to_string(),
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".into(),
        "/..%2f..%2f..%2f..%2fetc%2fpasswd".into(),
        "/%252e%252e/%252e%252e/etc/passwd".into(),
        "/..%c0%af..%c0%afetc/passwd".into(),
        "//etc/passwd".into(),
        "/config.json/../../../../etc/passwd".into(),
        "/.%00./.%00./etc/passwd".into(),
        "/..%5c..%5c..%5cetc%5cpasswd".into(),
        "/..\\..\\..\\etc\\passwd".into(),
        "/%2E%2E/%2E%2E/%2E%2E/etc/passwd".into(),
        "/.%2e/.%2e/.%2e/etc/passwd".into(),
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd".into(),
        "/..%252f..%252f..%252fetc%252fpasswd".into(),
        "/index.html%00".into(),
        "/C:/Windows/win.ini".into(),
        "/.env".into(),
        "/gatehouse.db".into(),
        "/endpoints.json".into(),
        "/.gatehouse/gatehouse.db".into(),
        format!("/{}", data_dir.trim_start_matches('/')),
        format!("{data_dir}/gatehouse.db"),
        "/.git/config".into(),
        "/Cargo.toml".into(),
        "/src/".into(),
        "/proc/self/environ".into(),
    ];
    let mut rows = Vec::new();
    for p in paths {
        let a = raw(
            &web,
            format!("GET {p} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
            quiet,
        )
        .await;
        let leak = a.text.contains("root:")
            || a.text.contains("SQLite format")
            || a.text.contains("[package]")
            || a.text.contains("[core]")
            || a.text.contains("PATH=")
            || a.text.contains("user_pool_id\":");
        let status = a
            .statuses
            .first()
            .map_or("none".to_string(), u16::to_string);
        rows.push(Row::new(
            format!("GET {}", if p.len() > 60 { &p[..60] } else { &p }),
            "404 | 400",
            if leak {
                format!("{status} LEAKED")
            } else {
                status
            },
        ));
    }
    rows.push(Row::new("/config.json carries no secret", "no secret", {
        let a = request("GET", &format!("{}/config.json", g.endpoints.web), &[], "").await;
        let t = a.body.to_ascii_lowercase();
        if t.contains("secret")
            || t.contains("password")
            || t.contains("pkcs8")
            || t.contains("private")
        {
            "secret present".to_string()
        } else {
            "no secret".to_string()
        }
    }));
    report("edge path escapes (SPA serving arrives later)", &rows);
}
