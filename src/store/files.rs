//! The SQLite database file's permissions: created 0600 before SQLite opens it (SQLite gives its `-wal` and
//! `-shm` files the database file's mode), and an existing file (and its companions) open to other users is
//! tightened to 0600. Also finds the file a `sqlite:` URL names. Never deletes or rewrites a file.
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The companion files SQLite keeps beside the database.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Creates `path` empty with mode 0600 if it does not exist; tightens it (and its companions) to 0600 if
/// group or others may read or write it. Returns whether anything was tightened.
pub fn private_db_file(path: &Path) -> io::Result<bool> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mut tightened = false;
    let mut names = vec![path.to_path_buf()];
    for c in COMPANIONS {
        let mut p = path.as_os_str().to_owned();
        p.push(c);
        names.push(PathBuf::from(p));
    }
    for p in names {
        let Ok(m) = std::fs::metadata(&p) else {
            continue;
        };
        if m.is_file() && m.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            tightened = true;
        }
    }
    Ok(tightened)
}

/// Tightens `dir` to 0700 if group or others have any access to it. `Ok(Some(old mode))` when it did.
pub fn private_dir(dir: &Path) -> io::Result<Option<u32>> {
    let m = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
    if m & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(Some(m))
}

/// The file a `sqlite:` URL names (`sqlite:PATH`, `sqlite://PATH`, with or without `?options`); `None` for an
/// in-memory database.
pub fn sqlite_url_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_database_file_is_0600_and_a_loose_one_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("g.db");
        assert!(!private_db_file(&db).unwrap());
        assert_eq!(mode(&db), 0o600);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wal = dir.path().join("g.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(private_db_file(&db).unwrap());
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_url_path("sqlite:/srv/g.db"),
            Some("/srv/g.db".into())
        );
        assert_eq!(
            sqlite_url_path("sqlite:///srv/g.db?mode=rwc"),
            Some("/srv/g.db".into())
        );
        assert_eq!(sqlite_url_path("sqlite:rel.db"), Some("rel.db".into()));
        assert_eq!(sqlite_url_path("sqlite::memory:"), None);
        assert_eq!(sqlite_url_path("sqlite://x.db?mode=memory"), None);
    }
}
