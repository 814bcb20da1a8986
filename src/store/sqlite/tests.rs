//! The behaviour every backend shares is in tests/store/conformance.rs; here only what is SQLite's own.
use super::SqliteStore;
use crate::store::{ClientRow, PoolRow, Store};

fn pool(id: &str) -> PoolRow {
    PoolRow {
        id: id.into(),
        region: "us-east-1".into(),
        created_at: 1,
    }
}
fn client(id: &str) -> ClientRow {
    ClientRow::new_public(
        id.into(),
        String::new().into(),
        "web".into(),
        "ALLOW_USER_PASSWORD_AUTH".into(),
        1,
    )
}

#[tokio::test]
async fn a_reopened_database_keeps_its_pool() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open_in(dir.path()).await.unwrap();
    let (p1, _) = s
        .ensure_default_pool(pool("us-east-1_AAAAAAAAA"), client("c1"))
        .await
        .unwrap();
    drop(s);
    let s = SqliteStore::open_in(dir.path()).await.unwrap();
    let (p3, _) = s
        .ensure_default_pool(pool("us-east-1_CCCCCCCCC"), client("c3"))
        .await
        .unwrap();
    assert_eq!(p3.id, p1.id, "a reopened database keeps its pool");
}
