//! One way to run a statement on either backend: SQL written once with `$n` placeholders (SQLite reads `$n` as
//! the n-th argument too), its arguments as `Arg`s, its rows decoded into `sqlx::FromRow` records. `Conn` is
//! implemented for a SQLite and a PostgreSQL connection (pooled or inside a transaction), so the statements the
//! backends share are written once, in `shared`. Must never begin or commit a transaction, nor hold SQL a
//! single backend needs.
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgConnection, SqliteConnection};

use super::{
    AuthFlows, ClientId, CodePurpose, OAuthFlows, PoolId, Scopes, Sub, UrlList, UserStatus,
};

/// One bound argument.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    Int4(i32),
    OptInt(Option<i64>),
    Bool(bool),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(s: &'a Option<String>) -> Self {
        Arg::OptText(s.as_deref())
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Arg::OptText(s)
    }
}

impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Arg::Bytes(b)
    }
}

impl From<UserStatus> for Arg<'_> {
    fn from(s: UserStatus) -> Self {
        Arg::Text(s.as_str())
    }
}

impl From<CodePurpose> for Arg<'_> {
    fn from(p: CodePurpose) -> Self {
        Arg::Text(p.as_str())
    }
}

impl<'a> From<&'a AuthFlows> for Arg<'a> {
    fn from(f: &'a AuthFlows) -> Self {
        Arg::Text(f.as_str())
    }
}

impl<'a> From<&'a Scopes> for Arg<'a> {
    fn from(s: &'a Scopes) -> Self {
        Arg::Text(s.as_str())
    }
}

impl<'a> From<&'a OAuthFlows> for Arg<'a> {
    fn from(f: &'a OAuthFlows) -> Self {
        Arg::Text(f.as_str())
    }
}

impl<'a> From<&'a UrlList> for Arg<'a> {
    fn from(u: &'a UrlList) -> Self {
        Arg::Text(u.as_str())
    }
}

/// An id binds as its text.
macro_rules! id_arg {
    ($($id:ty),*) => {
        $(
            impl<'a> From<&'a $id> for Arg<'a> {
                fn from(id: &'a $id) -> Self {
                    Arg::Text(id.as_str())
                }
            }

            impl<'a> From<Option<&'a $id>> for Arg<'a> {
                fn from(id: Option<&'a $id>) -> Self {
                    Arg::OptText(id.map(|i| i.as_str()))
                }
            }

            impl<'a> From<&'a Option<$id>> for Arg<'a> {
                fn from(id: &'a Option<$id>) -> Self {
                    Arg::OptText(id.as_ref().map(|i| i.as_str()))
                }
            }
        )*
    };
}

id_arg!(PoolId, Sub, ClientId);

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

impl From<i32> for Arg<'_> {
    fn from(n: i32) -> Self {
        Arg::Int4(n)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(n: Option<i64>) -> Self {
        Arg::OptInt(n)
    }
}

impl From<bool> for Arg<'_> {
    fn from(b: bool) -> Self {
        Arg::Bool(b)
    }
}

/// The arguments of one statement, in placeholder order: `args![a, b, c]`.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$($crate::store::sql::Arg::from($a)),*]
    };
}
pub(crate) use args;

/// A row type either backend can decode (`#[derive(sqlx::FromRow)]`, or a tuple for a scalar).
pub trait Record:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// A connection of either backend.
#[async_trait]
pub trait Conn: Send {
    /// Runs a statement; the number of rows it changed.
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error>;
    /// Every row a query returns.
    async fn all<T: Record>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>, sqlx::Error>;
    /// The first row a query returns, if any.
    async fn opt<T: Record>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>, sqlx::Error>;
    /// The first row a query returns; `RowNotFound` if there is none.
    async fn one<T: Record>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<T, sqlx::Error> {
        self.opt(sql, args).await?.ok_or(sqlx::Error::RowNotFound)
    }
}

/// Binds `args` to a query of either kind, in order.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match *a {
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Int4(v) => q.bind(v),
                Arg::OptInt(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v),
            };
        }
        q
    }};
}

/// `Conn` for one backend's connection type: the same three calls, typed for that database.
macro_rules! conn_for {
    ($conn:ty, $db:ty) => {
        #[async_trait]
        impl Conn for $conn {
            async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
                let q = bind_all!(sqlx::query::<$db>(sql), args);
                Ok(q.execute(&mut *self).await?.rows_affected())
            }

            async fn all<T: Record>(
                &mut self,
                sql: &str,
                args: &[Arg<'_>],
            ) -> Result<Vec<T>, sqlx::Error> {
                bind_all!(sqlx::query_as::<$db, T>(sql), args)
                    .fetch_all(&mut *self)
                    .await
            }

            async fn opt<T: Record>(
                &mut self,
                sql: &str,
                args: &[Arg<'_>],
            ) -> Result<Option<T>, sqlx::Error> {
                bind_all!(sqlx::query_as::<$db, T>(sql), args)
                    .fetch_optional(&mut *self)
                    .await
            }
        }
    };
}

conn_for!(SqliteConnection, sqlx::Sqlite);
conn_for!(PgConnection, sqlx::Postgres);
