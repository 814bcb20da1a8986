//! The built single-page app, loaded once: [`Site::load`] walks the web root at start (dotfiles skipped, symlinks
//! that resolve outside the root refused, a total-size cap), keeps every file in memory with a strong ETag and
//! precompressed gzip and brotli variants, and [`Site::resolve`] maps a request path to a file by exact lookup
//! (with the SPA fallback to `index.html`). Never touches the file system after start, never joins a request
//! path onto a directory, never lists a directory.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::asset::build_asset;
pub use super::asset::{cache_control, content_type, is_hashed_asset, Accepts, Asset, Variant};

/// Largest total size of the files of a web root (the app is kept in memory).
pub const MAX_SITE_BYTES: u64 = 64 * 1024 * 1024;
/// Most files a web root may hold.
pub const MAX_SITE_FILES: usize = 10_000;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 32;

/// Why a web root cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("web root {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("web root {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error(
        "web root {root} holds more than {limit} bytes of files (at {at}); gatehouse keeps the app in memory: \
         serve a site this large from a CDN or reverse proxy, or remove what the app does not need"
    )]
    TooBig {
        root: PathBuf,
        limit: u64,
        at: String,
    },
    #[error("web root {0} holds more than {MAX_SITE_FILES} files")]
    TooManyFiles(PathBuf),
    #[error("compressing {0}: {1}")]
    Compress(String, std::io::Error),
}

/// The app: URL path (decoded, without the leading `/`) → file.
#[derive(Debug, Default)]
pub struct Site {
    files: HashMap<String, Asset>,
    total_bytes: u64,
    max_bytes: u64,
}

/// What a request path resolves to.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// A file of the app (the key it was found under).
    File(&'a str),
    /// No such file and the path looks like a route of the app: `index.html`.
    Fallback,
    /// No such file (a missing asset or a dotfile).
    NotFound,
    /// A path that tries to leave the root or is not a clean path at all.
    BadPath,
}

/// Checks a request path (still percent-encoded) and decodes it: `Err(true)` for a malformed or escaping path
/// (400), `Err(false)` for a dotfile (404), `Ok(segments)` otherwise. A trailing `/` leaves an empty last
/// segment.
pub fn clean_path(raw: &str) -> Result<Vec<String>, bool> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(true);
    };
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| true)?;
    // After one decoding there must be nothing left to decode (double encoding), no backslash (a separator
    // elsewhere), no NUL or other control character.
    if decoded
        .chars()
        .any(|c| c == '%' || c == '\\' || c.is_control())
    {
        return Err(true);
    }
    if decoded.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<String> = decoded.split('/').map(str::to_string).collect();
    let last = segments.len() - 1;
    for (i, s) in segments.iter().enumerate() {
        if s == "." || s == ".." || (s.is_empty() && i != last) || (i == 0 && s.contains(':')) {
            return Err(true);
        }
        if s.starts_with('.') {
            return Err(false);
        }
    }
    Ok(segments)
}

/// True when the last segment names a file with an extension (`app.js`), i.e. a missing asset rather than a
/// route of the app.
fn has_extension(segment: &str) -> bool {
    segment
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty())
}

impl Site {
    /// Walks `root` once and loads every servable file. Dotfiles and dot-directories are skipped; symlinks are
    /// followed only when they resolve inside the root; special files are skipped.
    pub fn load(root: &Path) -> Result<Self, SiteError> {
        Self::load_capped(root, MAX_SITE_BYTES)
    }

    /// [`Site::load`] with another total-size cap.
    pub fn load_capped(root: &Path, max_bytes: u64) -> Result<Self, SiteError> {
        let canonical = root
            .canonicalize()
            .map_err(|e| SiteError::Io(root.to_path_buf(), e))?;
        if !canonical.is_dir() {
            return Err(SiteError::NotADirectory(root.to_path_buf()));
        }
        let mut site = Site {
            max_bytes,
            ..Site::default()
        };
        let mut visited = HashSet::new();
        visited.insert(canonical.clone());
        site.walk(root, &canonical, &canonical, "", 0, &mut visited)?;
        Ok(site)
    }

    fn walk(
        &mut self,
        root: &Path,
        canonical_root: &Path,
        dir: &Path,
        prefix: &str,
        depth: usize,
        visited: &mut HashSet<PathBuf>,
    ) -> Result<(), SiteError> {
        if depth > MAX_DEPTH {
            tracing::warn!(dir = %dir.display(), "web root nested too deep; skipped");
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(|e| SiteError::Io(dir.to_path_buf(), e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SiteError::Io(dir.to_path_buf(), e))?;
            names.push(entry.file_name());
        }
        names.sort();
        for name in names {
            let Some(name) = name.to_str() else {
                tracing::warn!(dir = %dir.display(), "skipped a file whose name is not UTF-8");
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if name.contains(['\\', '%', ':']) || name.chars().any(char::is_control) {
                tracing::warn!(
                    file = name,
                    "skipped a file whose name cannot be a URL path"
                );
                continue;
            }
            let path = dir.join(name);
            let key = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            // Resolve symlinks and refuse anything that ends up outside the root.
            let real = match path.canonicalize() {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(file = %key, error = %e, "skipped an unreadable or dangling entry");
                    continue;
                }
            };
            if !real.starts_with(canonical_root) {
                tracing::warn!(file = %key, "refused a symlink that leads outside the web root");
                continue;
            }
            let meta = std::fs::metadata(&real).map_err(|e| SiteError::Io(real.clone(), e))?;
            if meta.is_dir() {
                if visited.insert(real.clone()) {
                    self.walk(root, canonical_root, &real, &key, depth + 1, visited)?;
                }
            } else if meta.is_file() {
                if self.files.len() >= MAX_SITE_FILES {
                    return Err(SiteError::TooManyFiles(root.to_path_buf()));
                }
                self.total_bytes += meta.len();
                if self.total_bytes > self.max_bytes {
                    return Err(SiteError::TooBig {
                        root: root.to_path_buf(),
                        limit: self.max_bytes,
                        at: key,
                    });
                }
                let body = std::fs::read(&real).map_err(|e| SiteError::Io(real.clone(), e))?;
                // The file may have grown since it was measured.
                self.total_bytes += (body.len() as u64).saturating_sub(meta.len());
                if self.total_bytes > self.max_bytes {
                    return Err(SiteError::TooBig {
                        root: root.to_path_buf(),
                        limit: self.max_bytes,
                        at: key,
                    });
                }
                let asset =
                    build_asset(&key, body).map_err(|e| SiteError::Compress(key.clone(), e))?;
                self.files.insert(key, asset);
            }
        }
        Ok(())
    }

    /// Builds a site from in-memory files (for tests).
    pub fn from_files(files: &[(&str, &[u8])]) -> Result<Self, SiteError> {
        let mut site = Site::default();
        for (k, body) in files {
            site.files.insert(
                (*k).to_string(),
                build_asset(k, body.to_vec())
                    .map_err(|e| SiteError::Compress((*k).to_string(), e))?,
            );
            site.total_bytes += body.len() as u64;
        }
        Ok(site)
    }

    /// The file under `key` (a decoded path without the leading `/`).
    pub fn get(&self, key: &str) -> Option<&Asset> {
        self.files.get(key)
    }

    /// `index.html`, if the app has one.
    pub fn index(&self) -> Option<&Asset> {
        self.files.get("index.html")
    }

    /// How many files and bytes were loaded.
    pub fn stats(&self) -> (usize, u64) {
        (self.files.len(), self.total_bytes)
    }

    /// Maps a request path (percent-encoded, as received) to a file.
    pub fn resolve(&self, raw_path: &str) -> Lookup<'_> {
        let segments = match clean_path(raw_path) {
            Ok(s) => s,
            Err(true) => return Lookup::BadPath,
            Err(false) => return Lookup::NotFound,
        };
        let key = segments.join("/");
        if key.is_empty() || key.ends_with('/') {
            // A "directory": never listed; the app's route.
            return Lookup::Fallback;
        }
        if let Some((k, _)) = self.files.get_key_value(&key) {
            return Lookup::File(k.as_str());
        }
        match segments.last() {
            Some(last) if has_extension(last) => Lookup::NotFound,
            _ => Lookup::Fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        let big = "console.log('gatehouse');\n".repeat(100);
        Site::from_files(&[
            ("index.html", b"<!doctype html><title>app</title>"),
            ("assets/app-3f9a1c2b.js", big.as_bytes()),
            ("favicon.ico", b"\0\0\x01\0"),
            ("docs/guide.txt", b"guide"),
        ])
        .unwrap()
    }

    #[test]
    fn paths_resolve_by_exact_lookup_with_the_spa_fallback() {
        let s = site();
        for (path, want) in [
            ("/", Lookup::Fallback),
            ("/index.html", Lookup::File("index.html")),
            (
                "/assets/app-3f9a1c2b.js",
                Lookup::File("assets/app-3f9a1c2b.js"),
            ),
            (
                "/assets/app%2D3f9a1c2b.js",
                Lookup::File("assets/app-3f9a1c2b.js"),
            ),
            ("/chat/42", Lookup::Fallback),
            ("/chat/", Lookup::Fallback),
            ("/docs/", Lookup::Fallback),
            ("/assets/missing.js", Lookup::NotFound),
            ("/.env", Lookup::NotFound),
            ("/assets/.hidden/x", Lookup::NotFound),
            ("/%2eenv", Lookup::NotFound),
            ("/../etc/passwd", Lookup::BadPath),
            ("/%2e%2e/%2e%2e/etc/passwd", Lookup::BadPath),
            ("/%252e%252e/etc/passwd", Lookup::BadPath),
            ("/..%5c..%5cetc%5cpasswd", Lookup::BadPath),
            ("/..\\..\\etc\\passwd", Lookup::BadPath),
            ("/index.html%00.js", Lookup::BadPath),
            ("/..%c0%af..%c0%afetc/passwd", Lookup::BadPath),
            ("//etc/passwd", Lookup::BadPath),
            ("/assets//app-3f9a1c2b.js", Lookup::BadPath),
            ("/C:/Windows/win.ini", Lookup::BadPath),
            ("/./index.html", Lookup::BadPath),
            ("*", Lookup::BadPath),
        ] {
            assert_eq!(s.resolve(path), want, "{path}");
        }
    }

    #[test]
    fn a_directory_is_walked_once_with_dotfiles_and_outside_symlinks_left_out() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("site");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        std::fs::write(root.join("index.html"), "index").unwrap();
        std::fs::write(root.join("a/b/c.txt"), "c").unwrap();
        std::fs::write(root.join(".hidden/x.txt"), "x").unwrap();
        std::fs::write(root.join(".env"), "x").unwrap();
        std::fs::write(tmp.path().join("outside.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside.txt"), root.join("out.txt")).unwrap();
        std::os::unix::fs::symlink("a/b/c.txt", root.join("in.txt")).unwrap();
        // A loop back to the root is walked once.
        std::os::unix::fs::symlink("../..", root.join("a/b/loop")).unwrap();
        let s = Site::load(&root).unwrap();
        let mut keys: Vec<&String> = s.files.keys().collect();
        keys.sort();
        assert_eq!(keys, ["a/b/c.txt", "in.txt", "index.html"]);
        assert_eq!(s.stats(), (3, 7));

        let e = Site::load_capped(&root, 4).unwrap_err().to_string();
        assert!(e.contains("more than 4 bytes") && e.contains("site"), "{e}");
        assert!(Site::load(&root.join("index.html")).is_err());
        assert!(Site::load(&tmp.path().join("none")).is_err());
    }

    #[test]
    fn compressed_variants_decode_to_the_file_and_carry_their_own_etag() {
        let s = site();
        let a = s.get("assets/app-3f9a1c2b.js").unwrap();
        let gz = a.gzip.as_ref().unwrap();
        let br = a.br.as_ref().unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut out)
            .unwrap();
        assert_eq!(out, a.identity.body);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut brotli::Decompressor::new(&br.body[..], 4096), &mut out)
            .unwrap();
        assert_eq!(out, a.identity.body);
        let tags: HashSet<&str> = [&a.identity.etag, &gz.etag, &br.etag]
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(tags.len(), 3);
        // Tiny and binary files are not compressed.
        assert!(s.get("favicon.ico").unwrap().gzip.is_none());
        assert!(s.index().unwrap().br.is_none());
    }
}
