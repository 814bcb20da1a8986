//! The edge's request-path check and lookup (`edge::site::clean_path`, `Site::resolve`). Must never panic; a path
//! that resolves to a file resolves to one of the site's own keys; a clean path has no dot segment, dotfile,
//! backslash, NUL or percent sign left.
#![no_main]
use std::sync::OnceLock;

use gatehouse::edge::site::{clean_path, Lookup, Site};
use libfuzzer_sys::fuzz_target;

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        Site::from_files(&[
            ("index.html", b"index"),
            ("assets/app-3f9a1c2b.js", b"app"),
            ("nested/deep/page.txt", b"page"),
        ])
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Lookup::File(key) = site().resolve(path) {
        assert!(site().get(key).is_some());
        assert!(!key.split('/').any(|s| s.is_empty() || s.starts_with('.')));
    }
    if let Ok(segments) = clean_path(path) {
        for s in &segments {
            assert!(!s.starts_with('.'), "{path:?}");
            assert!(!s.contains(['\\', '\0', '%', '/']), "{path:?}");
        }
    }
});
