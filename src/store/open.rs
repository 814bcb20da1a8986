//! Opening the store a `DatabaseUrl` names (the one place that turns a database URL into a store), and the data
//! directory the embedded SQLite file lives in. Never logs a URL with its password: PostgreSQL is logged as user,
//! host, port and database.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::database_url::{DatabaseUrl, Location};
use super::{PostgresStore, SqliteStore, Store, StoreError};

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory cannot be created or made private.
    #[error("data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    /// The database URL names a scheme gatehouse does not speak (a usage error).
    #[error(
        "--database-url: '{0}://' is not supported; use postgres://USER@HOST:PORT/DB, sqlite:PATH or a file path"
    )]
    UnsupportedScheme(String),
    /// PostgreSQL refused or failed (the URL shown without its password).
    #[error("database {0}: {1}")]
    Database(String, StoreError),
    /// SQLite failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl OpenError {
    /// True when the fix is in the command line or configuration (exit code 64), not in the environment.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::UnsupportedScheme(_))
    }
}

/// Opens the store `url` names; for the data directory's SQLite file, the directory is created first (mode
/// 0700, or tightened when it is open to others).
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>, OpenError> {
    match url.location() {
        Location::DataDir(dir) => {
            create_data_dir(dir)?;
            Ok(Arc::new(SqliteStore::open_in(dir).await?))
        }
        Location::SqliteFile(path) => Ok(Arc::new(SqliteStore::open_file(path).await?)),
        Location::SqliteUrl(u) => Ok(Arc::new(SqliteStore::open_url(u).await?)),
        Location::Postgres { options, shown } => {
            let store = PostgresStore::open_with((**options).clone())
                .await
                .map_err(|e| OpenError::Database(shown.clone(), e))?;
            tracing::info!(database = %shown, "store: PostgreSQL");
            Ok(Arc::new(store))
        }
    }
}

/// Creates the data directory with mode 0700, or tightens an existing one that group or others may enter
/// (it holds password hashes, signing keys and the admin token); refuses one it cannot tighten.
pub fn create_data_dir(dir: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| OpenError::DataDir(dir.to_path_buf(), e))?;
    match super::files::private_dir(dir) {
        Ok(None) => Ok(()),
        Ok(Some(was)) => {
            tracing::warn!(path = %dir.display(), was = format!("{was:o}"), "the data directory was open to other users; now mode 700");
            Ok(())
        }
        Err(e) => Err(OpenError::DataDir(
            dir.to_path_buf(),
            std::io::Error::new(
                e.kind(),
                format!(
                    "is open to other users and cannot be made private ({e}); chmod 700 it, or give --data-dir a \
                     directory gatehouse owns (e.g. a subdirectory, which it creates with mode 700)"
                ),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_scheme_is_a_usage_error_naming_the_scheme() {
        let tmp = tempfile::tempdir().unwrap();
        let e = DatabaseUrl::resolve(tmp.path(), Some("mysql://db/x"))
            .err()
            .unwrap();
        assert!(e.is_usage());
        assert!(e.to_string().contains("'mysql://'"), "{e}");
    }

    #[tokio::test]
    async fn without_a_url_the_data_directory_is_created_private_and_holds_the_store() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        open(&DatabaseUrl::resolve(&dir, None).unwrap())
            .await
            .unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(dir.join(crate::store::sqlite::DB_FILE).exists());
        let e = open(&DatabaseUrl::resolve(&dir, Some("   ")).unwrap()).await;
        assert!(e.is_ok(), "a blank URL means the data directory");
    }
}
