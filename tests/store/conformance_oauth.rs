//! The store contract of the OAuth server, for every backend (SQLite and PostgreSQL, two handles on one database
//! each, as in `store::conformance`): a client's OAuth settings round trip and are replaced together, a deleted client's refresh tokens are
//! revoked, resource servers, and authorization codes — redeemed once (also when two instances race), expiring,
//! a replay revoking the family the first redemption issued, the grant kept for the family; the hosted page's
//! SSO sessions (seen by the other instance, expiring, ended) and the third-party client flag.
use gatehouse::store::{
    AuthCodeRow, ClientOAuth, ClientRow, OAuthFlow, RedeemOutcome, RefreshRow, ResourceScope,
    ResourceScopes, ResourceServerRow, SsoSessionRow, StoreError,
};

use crate::store::conformance::{both_backends, postgres_pair, sqlite_pair, with_user, POOL, S};

both_backends!(
    oauth_settings_round_trip_and_a_deleted_client_loses_its_tokens,
    a_clients_oauth_settings_are_replaced_together_and_nothing_else,
    resource_servers_round_trip_and_identifiers_are_unique,
    a_code_is_redeemed_once_and_a_replay_revokes_what_it_issued,
    a_code_raced_by_two_instances_is_redeemed_once,
    an_expired_or_unknown_code_is_invalid,
    sso_sessions_are_shared_expire_and_end,
);

fn oauth_client(id: &str) -> ClientRow {
    ClientRow {
        secret: Some("s3cret".into()),
        callback_urls: "https://app.example.com/cb http://127.0.0.1/cb".into(),
        logout_urls: "https://app.example.com/bye".into(),
        oauth_flows: "code client_credentials".into(),
        oauth_scopes: "openid email https://api.example.com/read".into(),
        ..ClientRow::new_public(
            id.into(),
            POOL.clone(),
            "oauth".into(),
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
            5,
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
        expires_at: 10_000,
        revoked_at: None,
        family_id: hash.into(),
        rotated_at: None,
    }
}

fn auth_code(hash: &str, expires_at: i64) -> AuthCodeRow {
    AuthCodeRow {
        code_hash: hash.into(),
        pool_id: POOL.clone(),
        client_id: "oc".into(),
        sub: "sub-1".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        scope: "openid email".into(),
        resource: Some("https://api.example.com".into()),
        auth_time: 100,
        created_at: 100,
        expires_at,
        used_at: None,
        family_id: None,
    }
}

async fn oauth_settings_round_trip_and_a_deleted_client_loses_its_tokens(a: S, b: S) {
    with_user(&a).await;
    let c = oauth_client("oc");
    a.create_client(c.clone()).await.unwrap();
    let read = b.clients(&POOL).await.unwrap();
    let read = read.iter().find(|r| r.id == "oc").unwrap();
    assert_eq!(*read, c, "every OAuth field survives the round trip");
    assert!(read.oauth_flows.allows(OAuthFlow::Code));
    assert!(read.oauth_flows.allows(OAuthFlow::ClientCredentials));
    assert_eq!(read.callback_urls.iter().count(), 2);

    a.insert_refresh_token(refresh("h1", "oc", "o1"))
        .await
        .unwrap();
    a.insert_refresh_token(refresh("h2", "c1", "o2"))
        .await
        .unwrap();
    let before = a.revocations_after(0, 100).await.unwrap().len();
    b.delete_client(&POOL, &"oc".into(), 200).await.unwrap();
    assert!(a.clients(&POOL).await.unwrap().iter().all(|r| r.id != "oc"));
    assert_eq!(
        a.find_refresh_token("h1").await.unwrap().revoked_at,
        Some(200)
    );
    assert_eq!(
        a.find_refresh_token("h2").await.unwrap().revoked_at,
        None,
        "another client's tokens stay live"
    );
    assert!(a.origin_revoked(&POOL, "o1").await.unwrap());
    assert!(!a.origin_revoked(&POOL, "o2").await.unwrap());
    assert_eq!(a.revocations_after(0, 100).await.unwrap().len(), before + 1);
    assert!(matches!(
        a.delete_client(&POOL, &"oc".into(), 201).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_clients_oauth_settings_are_replaced_together_and_nothing_else(a: S, b: S) {
    with_user(&a).await;
    let c = oauth_client("oc");
    a.create_client(c.clone()).await.unwrap();
    let other = oauth_client("od");
    a.create_client(other.clone()).await.unwrap();
    let s = ClientOAuth {
        callback_urls: "https://new.example.com/callback".into(),
        logout_urls: "https://new.example.com/".into(),
        oauth_flows: "code".into(),
        oauth_scopes: "openid email profile".into(),
    };
    a.set_client_oauth(&POOL, &"oc".into(), &s).await.unwrap();
    let read = b.clients(&POOL).await.unwrap();
    let got = read.iter().find(|r| r.id == "oc").unwrap();
    let want = ClientRow {
        callback_urls: s.callback_urls.clone(),
        logout_urls: s.logout_urls.clone(),
        oauth_flows: s.oauth_flows.clone(),
        oauth_scopes: s.oauth_scopes.clone(),
        ..c
    };
    assert_eq!(
        *got, want,
        "the four settings change, the rest (secret included) does not"
    );
    assert_eq!(
        read.iter().find(|r| r.id == "od").unwrap(),
        &other,
        "another client is untouched"
    );
    assert!(matches!(
        b.set_client_oauth(&POOL, &"nope".into(), &s).await,
        Err(StoreError::NotFound)
    ));
}

async fn resource_servers_round_trip_and_identifiers_are_unique(a: S, b: S) {
    with_user(&a).await;
    let rs = ResourceServerRow {
        pool_id: POOL.clone(),
        identifier: "https://api.example.com".into(),
        name: "api".into(),
        scopes: ResourceScopes(vec![
            ResourceScope {
                name: "read".into(),
                description: "Read things".into(),
            },
            ResourceScope {
                name: "write".into(),
                description: "Write things".into(),
            },
        ]),
        created_at: 7,
    };
    a.create_resource_server(rs.clone()).await.unwrap();
    assert!(matches!(
        b.create_resource_server(rs.clone()).await,
        Err(StoreError::Conflict)
    ));
    let read = b.resource_servers(&POOL).await.unwrap();
    assert_eq!(read, vec![rs.clone()]);
    assert_eq!(
        read[0].full_scopes().collect::<Vec<_>>(),
        [
            "https://api.example.com/read",
            "https://api.example.com/write"
        ]
    );
    assert!(b
        .resource_servers(&"other".into())
        .await
        .unwrap()
        .is_empty());
    b.delete_resource_server(&POOL, &rs.identifier)
        .await
        .unwrap();
    assert!(a.resource_servers(&POOL).await.unwrap().is_empty());
    assert!(matches!(
        a.delete_resource_server(&POOL, &rs.identifier).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_code_is_redeemed_once_and_a_replay_revokes_what_it_issued(a: S, b: S) {
    with_user(&a).await;
    a.put_auth_code(auth_code("code-1", 400), 100)
        .await
        .unwrap();
    let found = b.find_auth_code("code-1").await.unwrap().unwrap();
    assert_eq!(found, auth_code("code-1", 400));

    let r = refresh("rt-1", "oc", "origin-1");
    let RedeemOutcome::Redeemed(code) = b
        .redeem_auth_code("code-1", Some(r.clone()), 150)
        .await
        .unwrap()
    else {
        panic!("the first redemption succeeds")
    };
    assert_eq!(code.used_at, Some(150));
    assert_eq!(code.family_id.as_deref(), Some("rt-1"));
    assert_eq!(code.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(a.find_refresh_token("rt-1").await.unwrap(), r);
    let grant = a.oauth_grant("rt-1").await.unwrap().unwrap();
    assert_eq!(grant.scope, "openid email");
    assert_eq!(grant.resource.as_deref(), Some("https://api.example.com"));
    assert_eq!(grant.client_id, "oc");
    assert!(a.oauth_grant("rt-other").await.unwrap().is_none());

    let again = a
        .redeem_auth_code("code-1", Some(refresh("rt-2", "oc", "origin-2")), 160)
        .await
        .unwrap();
    assert_eq!(again, RedeemOutcome::Replayed);
    assert_eq!(
        a.find_refresh_token("rt-1").await.unwrap().revoked_at,
        Some(160),
        "the replay revoked the refresh token the first redemption issued"
    );
    assert!(a.origin_revoked(&POOL, "origin-1").await.unwrap());
    assert!(
        matches!(
            a.find_refresh_token("rt-2").await,
            Err(StoreError::NotFound)
        ),
        "a replay stores nothing"
    );
}

async fn a_code_raced_by_two_instances_is_redeemed_once(a: S, b: S) {
    with_user(&a).await;
    a.put_auth_code(auth_code("code-r", 400), 100)
        .await
        .unwrap();
    let (x, y) = tokio::join!(
        a.redeem_auth_code("code-r", Some(refresh("rx", "oc", "ox")), 150),
        b.redeem_auth_code("code-r", Some(refresh("ry", "oc", "oy")), 150),
    );
    let outcomes = [x.unwrap(), y.unwrap()];
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, RedeemOutcome::Redeemed(_)))
        .count();
    assert_eq!(won, 1, "exactly one redemption wins: {outcomes:?}");
    assert!(outcomes.contains(&RedeemOutcome::Replayed));
    // The loser's replay revoked the winner's token: a code used twice issues nothing live.
    for h in ["rx", "ry"] {
        if let Ok(row) = a.find_refresh_token(h).await {
            assert!(row.revoked_at.is_some(), "{h} is revoked");
        }
    }
}

async fn an_expired_or_unknown_code_is_invalid(a: S, b: S) {
    with_user(&a).await;
    a.put_auth_code(auth_code("code-e", 200), 100)
        .await
        .unwrap();
    assert_eq!(
        b.redeem_auth_code("code-e", Some(refresh("re", "oc", "oe")), 200)
            .await
            .unwrap(),
        RedeemOutcome::Invalid
    );
    assert!(matches!(
        a.find_refresh_token("re").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        b.redeem_auth_code("nope", None, 150).await.unwrap(),
        RedeemOutcome::Invalid
    );
    // A code without a refresh token (no refresh flow) is still single use.
    a.put_auth_code(auth_code("code-n", 400), 100)
        .await
        .unwrap();
    assert!(matches!(
        a.redeem_auth_code("code-n", None, 150).await.unwrap(),
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(
        b.redeem_auth_code("code-n", None, 151).await.unwrap(),
        RedeemOutcome::Replayed
    );
    // Codes a day past their expiry are dropped when a new one is stored.
    a.put_auth_code(auth_code("code-late", 100_000), 200 + 24 * 3600 + 1)
        .await
        .unwrap();
    assert!(a.find_auth_code("code-e").await.unwrap().is_none());
}

async fn sso_sessions_are_shared_expire_and_end(a: S, b: S) {
    with_user(&a).await;
    let row = |hash: &str, expires_at: i64| SsoSessionRow {
        id_hash: hash.into(),
        pool_id: POOL.clone(),
        sub: "sub-1".into(),
        auth_time: 90,
        created_at: 100,
        expires_at,
    };
    a.put_sso_session(row("sso-1", 200), 100).await.unwrap();
    a.put_sso_session(row("sso-2", 300), 100).await.unwrap();
    let found = b.find_sso_session("sso-1", 150).await.unwrap().unwrap();
    assert_eq!(found, row("sso-1", 200));
    assert!(
        b.find_sso_session("sso-1", 200).await.unwrap().is_none(),
        "expired"
    );
    assert!(b.find_sso_session("nope", 150).await.unwrap().is_none());
    b.delete_sso_session("sso-2").await.unwrap();
    assert!(
        a.find_sso_session("sso-2", 150).await.unwrap().is_none(),
        "ended"
    );
    b.delete_sso_session("sso-2").await.unwrap();
    // The third-party flag round trips.
    let c = ClientRow {
        consent_required: true,
        ..oauth_client("third")
    };
    a.create_client(c).await.unwrap();
    let back = b.clients(&POOL).await.unwrap();
    assert!(back
        .iter()
        .any(|c| c.id.as_str() == "third" && c.consent_required));
}
