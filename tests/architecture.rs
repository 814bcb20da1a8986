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

/// The top-level module a file of `src/` belongs to (`src/gateway/ws.rs` → `gateway`, `src/clock.rs` → `clock`);
/// `None` for the crate roots.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The crate-internal modules a piece of code names: `crate::x::…` and every first segment of `crate::{x, y::…}`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let preceded = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `gatehouse_crate::` or similar, not this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[j..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        let ident: String = group[j..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        out.push(ident);
                        start = false;
                    }
                    c if c.is_whitespace() => {}
                    _ => start = false,
                }
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                out.push(ident);
            }
        }
    }
    out
}

/// Every import of one top-level module by another under `src`: (importer, imported, "file:line: code").
fn imports(src: &Path) -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = Vec::new();
    for f in files {
        let Some(from) = module_of(src, &f) else {
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for to in crate_paths(code) {
                if to != from {
                    let at = format!("{}:{}: {}", f.display(), n + 1, line.trim());
                    out.push((from.clone(), to, at));
                }
            }
        }
    }
    out
}

/// The table under `## Dependency rules` in ARCHITECTURE.md: module → the modules it may import
/// (`None`: any module).
fn dependency_rules(markdown: &str) -> std::collections::BTreeMap<String, Option<Vec<String>>> {
    let section = markdown
        .split("\n## Dependency rules")
        .nth(1)
        .expect("ARCHITECTURE.md has no `## Dependency rules` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let tick = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let mut rules = std::collections::BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let allowed = if cells[2] == "any module" {
            None
        } else {
            Some(tick(cells[2]))
        };
        for m in tick(cells[1]) {
            rules.insert(m, allowed.clone());
        }
    }
    rules
}

/// What breaks the rules: a module without a row, an import the row does not allow, a cycle among the rows.
fn rule_violations(src: &Path, markdown: &str) -> Vec<String> {
    let rules = dependency_rules(markdown);
    let mut bad = Vec::new();
    let mut modules = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        if let Some(m) = module_of(src, &entry.unwrap().path()) {
            modules.push(m);
        }
    }
    for m in &modules {
        if !rules.contains_key(m) {
            bad.push(format!("module `{m}` has no row in the dependency rules"));
        }
    }
    for (from, to, at) in imports(src) {
        if !modules.contains(&to) {
            continue; // `crate::Foo` re-exported at the root, a macro path
        }
        match rules.get(&from) {
            Some(Some(allowed)) if !allowed.contains(&to) => {
                bad.push(format!("`{from}` may not import `{to}`: {at}"));
            }
            _ => {}
        }
    }
    // A cycle among the allowed arrows (modules that may import anything are the top and are left out).
    fn visit(
        m: &str,
        rules: &std::collections::BTreeMap<String, Option<Vec<String>>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
        bad: &mut Vec<String>,
    ) {
        if let Some(i) = path.iter().position(|p| p == m) {
            bad.push(format!("cycle: {} → {m}", path[i..].join(" → ")));
            return;
        }
        if !done.insert(m.to_string()) {
            return;
        }
        path.push(m.to_string());
        if let Some(Some(next)) = rules.get(m) {
            for n in next {
                visit(n, rules, path, done, bad);
            }
        }
        path.pop();
    }
    let mut done = std::collections::BTreeSet::new();
    for m in rules.keys() {
        visit(m, &rules, &mut Vec::new(), &mut done, &mut bad);
    }
    bad
}

#[test]
fn every_import_between_modules_follows_the_architecture_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let bad = rule_violations(&root.join("src"), &markdown);
    assert!(
        bad.is_empty(),
        "ARCHITECTURE.md's dependency rules are broken:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_rules_check_catches_a_wrong_way_import_a_missing_row_and_a_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    std::fs::create_dir_all(src.join("gateway")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod gateway; pub mod server;\n").unwrap();
    std::fs::write(
        src.join("gateway/forward.rs"),
        "use crate::{token::Claims, server::encode};\n// crate::cli in a comment is fine\n",
    )
    .unwrap();
    std::fs::write(src.join("server.rs"), "use crate::gateway::Runtime;\n").unwrap();
    std::fs::write(src.join("token.rs"), "use crate::util::x;\n").unwrap();
    let table = "# A\n\n## Dependency rules\n\n| module | may import |\n| --- | --- |\n\
                 | `gateway` | `token` |\n| `server` | `gateway`, `token` |\n| `token` | — |\n\n## Next\n";
    let bad = rule_violations(src, table);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].starts_with("`gateway` may not import `server`"),
        "{bad:?}"
    );
    // A module without a row, and a cycle between rows.
    std::fs::write(src.join("util.rs"), "").unwrap();
    let cyclic = table.replace("| `token` | — |", "| `token` | `server` |");
    let bad = rule_violations(src, &cyclic);
    assert!(
        bad.iter().any(|b| b.contains("`util` has no row")),
        "{bad:?}"
    );
    assert!(bad.iter().any(|b| b.starts_with("cycle:")), "{bad:?}");
}

/// The module path of a file of `src/` (`src/gateway/ws.rs` → `[gateway, ws]`, `src/gateway/mod.rs` →
/// `[gateway]`, `src/lib.rs` → `[]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let Ok(rel) = file.strip_prefix(src) else {
        return Vec::new();
    };
    let mut path: Vec<String> = rel
        .components()
        .filter_map(|c| c.as_os_str().to_str().map(str::to_string))
        .collect();
    if let Some(last) = path.pop() {
        let stem = last.strip_suffix(".rs").unwrap_or(&last).to_string();
        if !matches!(stem.as_str(), "mod" | "lib" | "main") {
            path.push(stem);
        }
    }
    path
}

/// Every path a `use` tree or expression names after a leading `crate::`, `super::` or `self::`, flattened:
/// `super::{a, b::{self, C}}` → `[super, a]`, `[super, b, self]`, `[super, b, C]`.
fn relative_paths(code: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (&s[..end], &s[end..])
    }
    /// Parses one use tree at the start of `s` into `out`, each path prefixed by `prefix`; returns the rest.
    fn tree<'a>(s: &'a str, prefix: &[String], out: &mut Vec<Vec<String>>) -> &'a str {
        let s = s.trim_start();
        if let Some(mut rest) = s.strip_prefix('{') {
            loop {
                rest = tree(rest, prefix, out).trim_start();
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                    if let Some(r) = rest.trim_start().strip_prefix('}') {
                        return r;
                    }
                } else {
                    return rest.strip_prefix('}').unwrap_or(rest);
                }
            }
        }
        let (name, rest) = ident(s);
        if name.is_empty() {
            if !prefix.is_empty() {
                out.push(prefix.to_vec());
            }
            return rest;
        }
        let mut path = prefix.to_vec();
        path.push(name.to_string());
        match rest.strip_prefix("::") {
            Some(r) => tree(r, &path, out),
            None => {
                out.push(path);
                rest
            }
        }
    }
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let preceded = rest[..i].chars().last();
            let head = start.trim_end_matches("::").to_string();
            rest = &rest[i + start.len()..];
            if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `gatehouse_crate::`, or the `super::` of `super::super::`
            }
            tree(rest, &[head], &mut out);
        }
    }
    out
}

/// Imports between sibling submodules under `src`, as (parent module, importer, imported, "file:line: code"):
/// `use super::forward::x` in `src/gateway/ws.rs` is (`gateway`, `ws`, `forward`). A parent naming its children or
/// a child naming its parent's own items is no arrow; code inside an inline `mod … {` block is one level deeper.
fn sibling_imports(src: &Path) -> Vec<(String, String, String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let exists = |m: &[String]| {
        let dir = m.iter().fold(src.to_path_buf(), |p, s| p.join(s));
        dir.is_dir() || dir.with_extension("rs").is_file()
    };
    let mut out = Vec::new();
    for f in files {
        let file_mod = module_path(src, &f);
        let text = std::fs::read_to_string(&f).unwrap();
        let mut inline: Vec<(String, i64)> = Vec::new(); // inline modules open, with the depth they opened at
        let mut depth = 0i64;
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let t = code.trim_start();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            if let Some(name) = t
                .strip_prefix("mod ")
                .and_then(|r| r.trim_end().strip_suffix('{'))
            {
                inline.push((name.trim().to_string(), depth));
            }
            depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            inline.retain(|(_, d)| depth > *d);
            let mut here = file_mod.clone();
            here.extend(inline.iter().map(|(m, _)| m.clone()));
            for path in relative_paths(code) {
                let mut target = match path[0].as_str() {
                    "crate" => Vec::new(),
                    "self" => here.clone(),
                    _ => here[..here.len().saturating_sub(1)].to_vec(),
                };
                let mut segs = path[1..].iter();
                let mut seg = segs.next();
                while let Some(s) = seg.filter(|s| *s == "super") {
                    let _ = s;
                    target.pop();
                    seg = segs.next();
                }
                target.extend(seg.into_iter().chain(segs).cloned());
                let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
                if common >= here.len() || common >= target.len() {
                    continue; // into itself, a child, or the parent's own items
                }
                let (parent, to) = (&target[..common], &target[..=common]);
                if parent.is_empty() || !exists(to) || !exists(&here[..=common]) {
                    continue; // top-level arrows are the table's; `super::Item` is no module
                }
                let at = format!("{}:{}: {}", f.display(), n + 1, line.trim());
                out.push((
                    parent.join("::"),
                    here[common].clone(),
                    to[common].clone(),
                    at,
                ));
            }
        }
    }
    out
}

/// Cycles among the submodules of each module: `gateway: forward → ws → forward (src/…: …)`.
fn submodule_cycles(src: &Path) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut graph: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for (parent, from, to, at) in sibling_imports(src) {
        graph
            .entry((parent.clone(), from))
            .or_default()
            .entry(to)
            .or_insert(at);
    }
    let mut bad = BTreeMap::new();
    for (parent, start) in graph.keys() {
        // Depth-first from each node: a path back to the start is a cycle.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            let Some(next) = graph.get(&(parent.clone(), node.clone())) else {
                continue;
            };
            for (to, at) in next {
                if to == start {
                    let mut ring = path.clone();
                    let min = ring.iter().min().cloned().unwrap_or_default();
                    let i = ring.iter().position(|m| *m == min).unwrap_or(0);
                    ring.rotate_left(i);
                    ring.push(ring[0].clone());
                    bad.entry(format!("{parent}: cycle {}", ring.join(" → ")))
                        .or_insert_with(|| at.clone());
                } else if seen.insert(to.clone()) {
                    let mut p = path.clone();
                    p.push(to.clone());
                    stack.push((to.clone(), p));
                }
            }
        }
    }
    bad.into_iter()
        .map(|(ring, at)| format!("{ring} ({at})"))
        .collect()
}

#[test]
fn no_cycle_among_the_submodules_of_a_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = submodule_cycles(&src);
    assert!(
        bad.is_empty(),
        "submodules import each other in a cycle:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_cycle_check_catches_submodules_that_import_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    for dir in ["gateway", "idp", "agent/sandbox"] {
        std::fs::create_dir_all(src.join(dir)).unwrap();
    }
    let files = [
        ("lib.rs", "pub mod gateway; pub mod idp; pub mod agent;\n"),
        // gateway: forward → ws (through a group) → cluster (a crate path) → forward (super::): one ring.
        (
            "gateway/mod.rs",
            "pub mod forward; pub mod ws; pub mod cluster; use ws::X;\n",
        ),
        (
            "gateway/forward.rs",
            "use super::{ws::{self, Y}, GatewayError};\n",
        ),
        (
            "gateway/ws.rs",
            "fn f() { crate::gateway::cluster::go(); }\n",
        ),
        (
            "gateway/cluster.rs",
            "use super::forward::send;\n// use super::ws::x; in a comment\n",
        ),
        // idp: auth → refresh only, and a test module's `super::` is its own file: no ring.
        ("idp/auth.rs", "use super::refresh::x;\n"),
        (
            "idp/refresh.rs",
            "use super::GatewayError;\n#[cfg(test)]\nmod tests {\n    use super::auth;\n}\n",
        ),
        (
            "idp/mod.rs",
            "pub mod auth; pub mod refresh; pub mod auth_b;\n",
        ),
        // agent::sandbox: a ring one level deeper; agent: a ring through `super::super::` from inside sandbox.
        ("agent/mod.rs", "pub mod sandbox; pub mod uids;\n"),
        ("agent/uids.rs", "use super::sandbox::a::z;\n"),
        ("agent/sandbox/mod.rs", "pub mod a; pub mod b;\n"),
        (
            "agent/sandbox/a.rs",
            "use super::b::x;\nuse super::super::uids::Lease;\n",
        ),
        ("agent/sandbox/b.rs", "use crate::agent::sandbox::a::y;\n"),
    ];
    for (path, text) in files {
        std::fs::write(src.join(path), text).unwrap();
    }
    let bad = submodule_cycles(src);
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert!(
        bad[0].starts_with("agent: cycle sandbox → uids → sandbox"),
        "{bad:?}"
    );
    assert!(
        bad[1].starts_with("agent::sandbox: cycle a → b → a"),
        "{bad:?}"
    );
    assert!(
        bad[2].starts_with("gateway: cycle cluster → forward → ws → cluster"),
        "{bad:?}"
    );
}

/// The longest a file under `src/` and a function in it may be, in lines.
const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 100;

/// Files over `MAX_FILE_LINES` and functions over `MAX_FN_LINES` in `text` (rustfmt's layout: a body ends at the
/// first line that is the `fn` line's indentation followed by `}`).
fn size_violations(name: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    if lines.len() > MAX_FILE_LINES {
        out.push(format!(
            "{name}: {} lines (at most {MAX_FILE_LINES})",
            lines.len()
        ));
    }
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let words: Vec<&str> = body.split_whitespace().take(5).collect();
        let Some(at) = words.iter().position(|w| *w == "fn") else {
            continue;
        };
        let qualifiers = [
            "pub",
            "pub(crate)",
            "pub(super)",
            "async",
            "const",
            "unsafe",
        ];
        if !words[..at].iter().all(|w| qualifiers.contains(w)) || line.trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == close) {
            if end + 2 > MAX_FN_LINES {
                out.push(format!(
                    "{name}:{}: {} lines (at most {MAX_FN_LINES}): {body}",
                    i + 1,
                    end + 2
                ));
            }
        }
    }
    out
}

#[test]
fn no_file_in_src_is_over_600_lines_nor_any_function_over_100() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        bad.extend(size_violations(&f.display().to_string(), &text));
    }
    assert!(bad.is_empty(), "split these:\n{}", bad.join("\n"));
}

#[test]
fn the_size_check_catches_a_long_file_and_a_long_function() {
    let long_fn = format!(
        "    pub async fn f() {{\n{}    }}\n",
        "        x();\n".repeat(99)
    );
    assert_eq!(
        size_violations("a.rs", &long_fn).len(),
        1,
        "a 101-line function"
    );
    let short_fn = format!("fn f() {{\n{}}}\n", "    x();\n".repeat(98));
    assert!(
        size_violations("a.rs", &short_fn).is_empty(),
        "a 100-line function is fine"
    );
    let decl = "    fn f(&self) -> u8;\n".repeat(10);
    assert!(
        size_violations("a.rs", &decl).is_empty(),
        "trait declarations have no body"
    );
    let long_file = "// x\n".repeat(601);
    assert_eq!(
        size_violations("a.rs", &long_file).len(),
        1,
        "a 601-line file"
    );
}
