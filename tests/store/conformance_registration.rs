//! The store contract of clients nobody pre-registered, for every backend (SQLite and PostgreSQL, two handles
//! on one database each): the dynamic flag, last use and secret creation time round trip; last use is written
//! at most hourly; the sweep deletes only dynamically registered clients unused since the cutoff (revoking
//! their refresh tokens) and never an operator's client; initial access tokens are found by hash.
use gatehouse::store::{ClientRow, RefreshRow};

use crate::store::conformance::{both_backends, postgres_pair, sqlite_pair, with_user, POOL, S};

both_backends!(
    registration_fields_round_trip_and_last_use_is_written_hourly,
    the_sweep_deletes_only_unused_dynamic_clients_and_revokes_their_tokens,
    registration_tokens_are_found_by_hash_in_their_pool,
);

fn dynamic(id: &str, created_at: i64) -> ClientRow {
    ClientRow {
        secret: Some("s3cret".into()),
        secret_created_at: Some(created_at),
        dynamic: true,
        callback_urls: "https://app.example.com/cb".into(),
        oauth_flows: "code".into(),
        ..ClientRow::new_public(
            id.into(),
            POOL.clone(),
            "dyn".into(),
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
            created_at,
        )
    }
}

fn refresh(hash: &str, client: &str, origin: &str) -> RefreshRow {
    RefreshRow {
        token_hash: hash.into(),
        pool_id: POOL.clone(),
        client_id: client.into(),
        sub: "sub-1".into(),
        origin_jti: origin.into(),
        auth_time: 100,
        created_at: 100,
        expires_at: 10_000_000,
        revoked_at: None,
        family_id: hash.into(),
        rotated_at: None,
    }
}

async fn read(s: &S, id: &str) -> Option<ClientRow> {
    s.clients(&POOL)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
}

async fn registration_fields_round_trip_and_last_use_is_written_hourly(a: S, b: S) {
    with_user(&a).await;
    let c = dynamic("d1", 1_000);
    a.create_client(c.clone()).await.unwrap();
    assert_eq!(read(&b, "d1").await.unwrap(), c, "every field survives");
    b.touch_client(&POOL, &"d1".into(), 5_000).await.unwrap();
    assert_eq!(read(&a, "d1").await.unwrap().last_used_at, Some(5_000));
    a.touch_client(&POOL, &"d1".into(), 5_000 + 3_599)
        .await
        .unwrap();
    assert_eq!(
        read(&b, "d1").await.unwrap().last_used_at,
        Some(5_000),
        "not rewritten within the hour"
    );
    a.touch_client(&POOL, &"d1".into(), 5_000 + 3_601)
        .await
        .unwrap();
    assert_eq!(read(&b, "d1").await.unwrap().last_used_at, Some(8_601));
    a.touch_client(&POOL, &"nobody".into(), 9_000)
        .await
        .unwrap();
}

async fn the_sweep_deletes_only_unused_dynamic_clients_and_revokes_their_tokens(a: S, b: S) {
    with_user(&a).await;
    a.create_client(dynamic("stale", 100)).await.unwrap();
    a.create_client(dynamic("used", 100)).await.unwrap();
    a.create_client(dynamic("fresh", 900)).await.unwrap();
    let operator = ClientRow {
        secret: Some("s".into()),
        ..ClientRow::new_public(
            "op".into(),
            POOL.clone(),
            "op".into(),
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
            100,
        )
    };
    a.create_client(operator).await.unwrap();
    a.touch_client(&POOL, &"used".into(), 800).await.unwrap();
    a.insert_refresh_token(refresh("h-stale", "stale", "o-stale"))
        .await
        .unwrap();
    let gone = b.sweep_unused_clients(&POOL, 500, 1_000).await.unwrap();
    assert_eq!(gone, ["stale"]);
    assert!(read(&a, "stale").await.is_none());
    for kept in ["used", "fresh", "op"] {
        assert!(read(&a, kept).await.is_some(), "{kept} is kept");
    }
    assert_eq!(
        a.find_refresh_token("h-stale").await.unwrap().revoked_at,
        Some(1_000)
    );
    assert!(a.origin_revoked(&POOL, "o-stale").await.unwrap());
    assert!(b
        .sweep_unused_clients(&POOL, 500, 1_001)
        .await
        .unwrap()
        .is_empty());
}

async fn registration_tokens_are_found_by_hash_in_their_pool(a: S, b: S) {
    assert!(!b.registration_token_exists(&POOL, "h1").await.unwrap());
    a.add_registration_token(&POOL, "h1", 10).await.unwrap();
    assert!(b.registration_token_exists(&POOL, "h1").await.unwrap());
    assert!(!b
        .registration_token_exists(&"us-east-1_BBBBBBBBB".into(), "h1")
        .await
        .unwrap());
    assert!(a.add_registration_token(&POOL, "h1", 11).await.is_err());
}
