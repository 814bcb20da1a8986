//! Which database a deployment names, parsed and checked once: `postgres://…` (or `postgresql://…`) for
//! PostgreSQL, `sqlite:…` or a plain file path for SQLite, or, without a URL, the SQLite file in the data
//! directory. Its `Debug` and `Display` never show a password: PostgreSQL is shown as user, host, port and
//! database. Must never open anything.
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use super::{OpenError, StoreError};

/// A checked database location; `store::open` opens it.
#[derive(Clone)]
pub struct DatabaseUrl(Location);

#[derive(Clone)]
pub(super) enum Location {
    /// `<data dir>/gatehouse.db`; the directory is created private when the store is opened.
    DataDir(PathBuf),
    /// A SQLite file named by its path.
    SqliteFile(PathBuf),
    /// A `sqlite:` URL (which may name an in-memory database).
    SqliteUrl(String),
    /// A PostgreSQL URL, parsed; `shown` is it without the password.
    Postgres {
        options: Box<PgConnectOptions>,
        shown: String,
    },
}

impl DatabaseUrl {
    /// The database `url` names or, when there is none (or it is blank), the SQLite file in `data_dir`.
    pub fn resolve(data_dir: &Path, url: Option<&str>) -> Result<Self, OpenError> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Self::in_data_dir(data_dir)),
            Some(url) => url.parse(),
        }
    }

    /// The SQLite file in `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self(Location::DataDir(data_dir.to_path_buf()))
    }

    /// Whether this names a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.0, Location::Postgres { .. })
    }

    /// The SQLite file this names by a path or a `sqlite:` URL; `None` for PostgreSQL, an in-memory database
    /// and the data directory's file.
    pub fn named_sqlite_file(&self) -> Option<PathBuf> {
        match &self.0 {
            Location::SqliteFile(path) => Some(path.clone()),
            Location::SqliteUrl(url) => super::files::sqlite_url_path(url),
            Location::DataDir(_) | Location::Postgres { .. } => None,
        }
    }

    pub(super) fn location(&self) -> &Location {
        &self.0
    }
}

impl FromStr for DatabaseUrl {
    type Err = OpenError;

    /// A URL (`postgres://…`, `postgresql://…`, `sqlite:…`) or a file path; another scheme is a usage error.
    fn from_str(url: &str) -> Result<Self, OpenError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return match PgConnectOptions::from_str(url) {
                Ok(options) => Ok(Self(Location::Postgres {
                    shown: shown(&options),
                    options: Box::new(options),
                })),
                Err(e) => Err(OpenError::Database(
                    "postgres://<unparsable URL>".into(),
                    StoreError::Other(format!("bad PostgreSQL URL: {e}")),
                )),
            };
        }
        if url.starts_with("sqlite:") {
            return Ok(Self(Location::SqliteUrl(url.to_string())));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(OpenError::UnsupportedScheme(scheme.to_string()));
        }
        Ok(Self(Location::SqliteFile(PathBuf::from(url))))
    }
}

/// `postgres://user@host:port/db`: the URL without its password.
fn shown(o: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap_or("")
    )
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Location::DataDir(dir) => write!(f, "{}", dir.join(super::sqlite::DB_FILE).display()),
            Location::SqliteFile(path) => write!(f, "{}", path.display()),
            Location::SqliteUrl(url) => f.write_str(url),
            Location::Postgres { shown, .. } => f.write_str(shown),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.to_string())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_is_shown_without_its_password() {
        let url: DatabaseUrl = "postgres://app:s3cret@db.internal:5433/gh".parse().unwrap();
        assert!(url.is_postgres());
        assert_eq!(url.to_string(), "postgres://app@db.internal:5433/gh");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn sqlite_urls_paths_and_the_data_directory_are_told_apart() {
        let dir = Path::new("/srv/gh");
        let url = DatabaseUrl::resolve(dir, Some("  ")).unwrap();
        assert!(matches!(url.location(), Location::DataDir(d) if d == dir));
        let url = DatabaseUrl::resolve(dir, None).unwrap();
        assert_eq!(url.to_string(), "/srv/gh/gatehouse.db");
        let url: DatabaseUrl = "sqlite::memory:".parse().unwrap();
        assert!(matches!(url.location(), Location::SqliteUrl(_)));
        assert_eq!(url.named_sqlite_file(), None);
        let url: DatabaseUrl = "/var/lib/gh.db".parse().unwrap();
        assert!(matches!(url.location(), Location::SqliteFile(_)));
        assert!(!url.is_postgres());
        assert_eq!(
            url.named_sqlite_file(),
            Some(PathBuf::from("/var/lib/gh.db"))
        );
        let url: DatabaseUrl = "sqlite:///var/lib/gh.db?mode=rwc".parse().unwrap();
        assert_eq!(
            url.named_sqlite_file(),
            Some(PathBuf::from("/var/lib/gh.db"))
        );
        assert_eq!(DatabaseUrl::in_data_dir(dir).named_sqlite_file(), None);
    }

    #[test]
    fn an_unknown_scheme_or_a_bad_postgres_url_is_refused() {
        let e = "mysql://root:pw@db/x".parse::<DatabaseUrl>().unwrap_err();
        assert!(e.is_usage());
        assert!(!e.to_string().contains("pw@"), "{e}");
        let e = "postgres://a:b@host:notaport/db"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(!e.is_usage());
        assert!(!e.to_string().contains("a:b"), "{e}");
    }
}
