//! Checks of the module rules that the compiler cannot enforce inside one crate.
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The offending lines of `src/token/` for a set of forbidden crate paths.
fn forbidden_uses(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let forbidden = [
        "axum",
        "hyper",
        "hyper_util",
        "sqlx",
        "tokio::net",
        "reqwest",
    ];
    let mut hits = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for c in forbidden {
                let as_use = code.trim_start().starts_with("use ")
                    && code.contains(&format!("{c}::"))
                    || code.trim_start().starts_with(&format!("use {c}"));
                let as_path =
                    code.contains(&format!("{c}::")) && !code.contains(&format!("_{c}::"));
                if as_use || as_path {
                    hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    hits
}

#[test]
fn token_module_imports_no_io_crates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/token");
    let hits = forbidden_uses(&root);
    assert!(
        hits.is_empty(),
        "src/token must stay pure (no axum, hyper, sqlx, tokio::net):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_check_itself_catches_a_forbidden_import() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.rs"),
        "use tokio::net::TcpStream;\nfn f() { let _ = axum::Router::<()>::new(); }\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("good.rs"),
        "use tokio::sync::Mutex;\n// axum::Router in a comment is fine\n",
    )
    .unwrap();
    let hits = forbidden_uses(tmp.path());
    assert_eq!(hits.len(), 2, "{hits:?}");
}

#[test]
fn every_example_configuration_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            gatehouse::config::Config::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n > 0);
}
