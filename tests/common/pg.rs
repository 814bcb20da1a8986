//! A fresh PostgreSQL database per test on the machine's server (`postgres://postgres@127.0.0.1:5432`, or
//! `$GATEHOUSE_TEST_POSTGRES_URL`), dropped when the guard is dropped — also when the test panics. If the server
//! cannot be reached the test fails with a message saying so, unless `GATEHOUSE_SKIP_POSTGRES=1`.
use sqlx::Connection as _;

/// The maintenance database the test databases are created from.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

// Tests read their switches from the process environment directly (there is no configuration to go through).
#[allow(clippy::disallowed_methods)]
fn admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// Whether PostgreSQL tests are skipped (`GATEHOUSE_SKIP_POSTGRES=1`).
#[allow(clippy::disallowed_methods)]
pub fn skipped() -> bool {
    let skip = std::env::var("GATEHOUSE_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("GATEHOUSE_SKIP_POSTGRES=1: skipping a PostgreSQL test");
    }
    skip
}

/// A database `gatehouse_test_<random>`, dropped with the guard.
pub struct TestDb {
    /// `postgres://…/gatehouse_test_<random>`.
    pub url: String,
    pub name: String,
}

impl TestDb {
    /// Creates the database; `None` when PostgreSQL tests are skipped.
    pub async fn create() -> Option<Self> {
        if skipped() {
            return None;
        }
        let admin = admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin} ({e}). The PostgreSQL tests need it (trust auth, user \
                 postgres); start it, point GATEHOUSE_TEST_POSTGRES_URL at another server, or set \
                 GATEHOUSE_SKIP_POSTGRES=1 to skip them"
            )
        });
        let name = format!("gatehouse_test_{}", gatehouse::util::random_lower_alnum(12));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// The database URL with its host and port replaced by `addr` (to go through a proxy).
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        let user = self
            .url
            .strip_prefix("postgres://")
            .and_then(|r| r.split_once('@'))
            .map_or("postgres", |(u, _)| u);
        format!("postgres://{user}@{addr}/{}", self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime (or during a panic): use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
