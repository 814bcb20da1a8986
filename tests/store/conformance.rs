//! One conformance suite for every `Store` backend, written once against `dyn Store`: each case runs against
//! SQLite (a temp file) and PostgreSQL (a fresh database on the machine's server, dropped afterwards). Each case
//! gets two handles on the same database — two "instances" — and the races use both: concurrent refresh-token
//! rotation, session binding, code use, default-pool creation and revocation polling.
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use gatehouse::store::{
    ClientRow, CodeAttempt, CodeCheck, CodeEffect, CodePurpose, CodeRow, KeyRow, PasswordUpdate,
    PoolId, PoolRow, PostgresStore, RefreshRow, RotateOutcome, SessionOwner, SqliteStore, Store,
    StoreError, UserRow, UserStatus,
};

use crate::common::pg::TestDb;

pub(crate) type S = Arc<dyn Store>;

/// Whatever must outlive the stores (a temp dir, a test database); held, never read.
#[allow(dead_code)]
pub(crate) enum Guard {
    _Dir(tempfile::TempDir),
    _Db(TestDb),
}

pub(crate) async fn sqlite_pair() -> (Guard, S, S) {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open_in(dir.path()).await.unwrap();
    let b = SqliteStore::open_in(dir.path()).await.unwrap();
    (Guard::_Dir(dir), Arc::new(a), Arc::new(b))
}

pub(crate) async fn postgres_pair() -> Option<(Guard, S, S)> {
    let db = TestDb::create().await?;
    let a = PostgresStore::open_url(&db.url).await.unwrap();
    let b = PostgresStore::open_url(&db.url).await.unwrap();
    Some((Guard::_Db(db), Arc::new(a), Arc::new(b)))
}

/// Each named test, run on SQLite and on PostgreSQL (skipped when it is not reachable), against two instances of
/// one store. Used by every conformance file.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_guard, a, b) = super::sqlite_pair().await;
                    super::$name(a, b).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((_guard, a, b)) = super::postgres_pair().await else { return };
                    super::$name(a, b).await;
                }
            )*
        }
    };
}
pub(crate) use both_backends;

both_backends!(
    default_pool_is_created_once_by_concurrent_instances,
    clients_keys_and_users_round_trip,
    duplicate_username_is_a_conflict,
    sign_up_writes_user_and_code_together_or_neither,
    first_session_binding_wins,
    concurrent_bindings_of_one_session_agree_on_the_first,
    runtime_arn_is_stable,
    rotation_grace_and_reuse,
    a_refresh_token_and_its_user_are_read_in_one_lookup,
    concurrent_rotations_within_grace_share_one_family,
    concurrent_rotations_without_grace_one_wins_the_rest_is_reuse,
    a_failed_rotation_leaves_nothing_half_written,
    revocation_rows_follow_the_contract,
    concurrent_revocations_are_seen_by_a_poller_without_gaps,
    codes_are_single_use_expire_and_count_attempts,
    a_code_raced_by_two_instances_is_used_once,
    reset_code_changes_password_and_revokes_in_one_step,
    the_first_instance_to_claim_a_session_process_wins,
    revocations_and_keys_are_pushed_to_other_instances,
    a_pending_sign_in_is_taken_once_by_any_instance,
);

pub(crate) static POOL: LazyLock<PoolId> = LazyLock::new(|| PoolId::from("us-east-1_AAAAAAAAA"));

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

pub(crate) fn user(username: &str, sub: &str) -> UserRow {
    UserRow {
        pool_id: POOL.clone(),
        sub: sub.into(),
        username: username.into(),
        email: Some(format!("{username}@example.com")),
        password_hash: "h".into(),
        status: UserStatus::Unconfirmed,
        enabled: true,
        created_at: 1,
        srp_salt: None,
        srp_verifier: None,
        attributes: "{}".into(),
        email_verified: false,
        pending_email: None,
    }
}

pub(crate) async fn with_user(s: &S) -> UserRow {
    s.ensure_default_pool(pool(POOL.as_str()), client("c1"))
        .await
        .unwrap();
    let u = user("alice", "sub-1");
    s.create_user(u.clone()).await.unwrap();
    u
}

async fn a_refresh_token_and_its_user_are_read_in_one_lookup(a: S, b: S) {
    let u = with_user(&a).await;
    a.insert_refresh_token(refresh("t1", "t1", "o1"))
        .await
        .unwrap();
    let (row, user) = b
        .find_refresh_token_with_user("t1")
        .await
        .unwrap()
        .expect("found");
    assert_eq!(
        row,
        b.find_refresh_token("t1").await.unwrap(),
        "the same row as the single lookup"
    );
    assert_eq!(
        user, u,
        "every column of the user, its own creation time included"
    );
    assert!(b
        .find_refresh_token_with_user("nope")
        .await
        .unwrap()
        .is_none());
    // A token whose user is gone is not found with it (the single lookup then tells the two cases apart).
    a.delete_user(&POOL, "alice", 200).await.unwrap();
    assert!(b
        .find_refresh_token_with_user("t1")
        .await
        .unwrap()
        .is_none());
}

fn refresh(hash: &str, family: &str, origin: &str) -> RefreshRow {
    RefreshRow {
        token_hash: hash.into(),
        pool_id: POOL.clone(),
        client_id: "c1".into(),
        sub: "sub-1".into(),
        origin_jti: origin.into(),
        auth_time: 100,
        created_at: 100,
        expires_at: 10_000,
        revoked_at: None,
        family_id: family.into(),
        rotated_at: None,
    }
}

pub(crate) fn code(hash: &str, purpose: CodePurpose, expires_at: i64) -> CodeRow {
    CodeRow {
        pool_id: POOL.clone(),
        username: "alice".into(),
        purpose,
        code_hash: hash.into(),
        expires_at,
        created_at: 1,
    }
}

/// A code presented for `username` of the test pool.
pub(crate) fn attempt<'a>(
    username: &'a str,
    purpose: CodePurpose,
    code_hash: &'a str,
    max_attempts: i64,
) -> CodeAttempt<'a> {
    CodeAttempt {
        pool_id: &POOL,
        username,
        purpose,
        code_hash,
        max_attempts,
    }
}

fn password(hash: &str) -> PasswordUpdate {
    PasswordUpdate {
        password_hash: hash.into(),
        srp_salt: "00".into(),
        srp_verifier: "02".into(),
        status: UserStatus::Confirmed,
    }
}

async fn default_pool_is_created_once_by_concurrent_instances(a: S, b: S) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.ensure_default_pool(
                pool(&format!("us-east-1_{i:09}")),
                client(&format!("client{i}")),
            )
            .await
            .unwrap()
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        let (p, c) = t.await.unwrap();
        assert_eq!(c.pool_id, p.id);
        seen.insert((p.id, c.id));
    }
    assert_eq!(
        seen.len(),
        1,
        "every instance gets the same pool and client"
    );
    let (p, c) = a
        .ensure_default_pool(pool("us-east-1_ZZZZZZZZZ"), client("late"))
        .await
        .unwrap();
    assert!(seen.contains(&(p.id, c.id)), "kept afterwards");
}

async fn clients_keys_and_users_round_trip(a: S, b: S) {
    let u = with_user(&a).await;
    let mut c = client("confidential");
    c.pool_id = POOL.clone();
    c.secret = Some("s3cret".into());
    c.scopes = "openid email".into();
    c.access_validity = 600;
    c.id_validity = 700;
    c.refresh_validity = 800;
    c.rotation = true;
    c.grace_seconds = 30;
    c.allowed_origins = "https://app.example.com".into();
    c.created_at = 5;
    a.create_client(c.clone()).await.unwrap();
    let clients = b.clients(&POOL).await.unwrap();
    assert_eq!(clients.len(), 2);
    assert_eq!(clients[1], c, "every field survives the round trip");
    assert!(matches!(
        a.create_client(c.clone()).await,
        Err(StoreError::Conflict)
    ));

    for (kid, at) in [("k2", 20), ("k1", 10)] {
        a.insert_signing_key(KeyRow {
            kid: kid.into(),
            pool_id: POOL.clone(),
            pkcs8: vec![0, 1, 2, 255],
            created_at: at,
        })
        .await
        .unwrap();
    }
    let keys = b.signing_keys(&POOL).await.unwrap();
    let kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["k1", "k2"], "oldest first");
    assert_eq!(keys[0].pkcs8, vec![0, 1, 2, 255]);

    assert_eq!(b.find_user(&POOL, "alice").await.unwrap(), u);
    assert_eq!(b.find_user_by_sub(&POOL, &"sub-1".into()).await.unwrap(), u);
    a.create_user(user("bob", "sub-2")).await.unwrap();
    let names: Vec<_> = b
        .list_users(&POOL)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    a.update_user_profile(
        &POOL,
        "alice",
        Some("new@example.com".into()),
        true,
        r#"{"name":"Alice"}"#.into(),
    )
    .await
    .unwrap();
    a.set_password(&POOL, "alice", password("h2"), false, 50)
        .await
        .unwrap();
    let got = b.find_user(&POOL, "alice").await.unwrap();
    assert_eq!(got.email.as_deref(), Some("new@example.com"));
    assert!(got.email_verified);
    assert_eq!(got.attributes, r#"{"name":"Alice"}"#);
    assert_eq!(got.password_hash, "h2");
    assert_eq!(got.srp_verifier.as_deref(), Some("02"));
    assert_eq!(got.status, UserStatus::Confirmed);
    assert_eq!(
        b.latest_sub_revocation(&POOL, &"sub-1".into())
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        a.update_user_profile(&POOL, "nobody", None, false, "{}".into())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        a.set_password(&POOL, "nobody", password("x"), true, 1)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        a.delete_user(&POOL, "nobody", 1).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        a.find_refresh_token("nope").await,
        Err(StoreError::NotFound)
    ));
    a.ping().await.unwrap();
}

async fn duplicate_username_is_a_conflict(a: S, b: S) {
    let u = with_user(&a).await;
    let again = b
        .create_user(UserRow {
            sub: "s2".into(),
            ..u
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict)));
    assert!(matches!(
        a.find_user(&POOL, "bob").await,
        Err(StoreError::NotFound)
    ));
}

async fn sign_up_writes_user_and_code_together_or_neither(a: S, b: S) {
    a.ensure_default_pool(pool(POOL.as_str()), client("c1"))
        .await
        .unwrap();
    a.create_user_with_code(
        user("alice", "sub-1"),
        code("c", CodePurpose::ConfirmSignUp, 100),
    )
    .await
    .unwrap();
    assert_eq!(
        b.use_code(
            attempt("alice", CodePurpose::ConfirmSignUp, "c", 3),
            CodeEffect::Confirm,
            50
        )
        .await
        .unwrap(),
        CodeCheck::Ok
    );
    // The user row conflicts: the code is not written either.
    let err = b
        .create_user_with_code(
            user("alice", "sub-9"),
            CodeRow {
                username: "alice".into(),
                ..code("c2", CodePurpose::ConfirmSignUp, 100)
            },
        )
        .await;
    assert!(matches!(err, Err(StoreError::Conflict)));
    assert_eq!(
        a.use_code(
            attempt("alice", CodePurpose::ConfirmSignUp, "c2", 3),
            CodeEffect::Confirm,
            50
        )
        .await
        .unwrap(),
        CodeCheck::Expired,
        "no code was written by the failed sign-up"
    );
    // The code conflicts after the user row went in: neither stays.
    a.put_code(CodeRow {
        username: "carol".into(),
        ..code("old", CodePurpose::ConfirmSignUp, 100)
    })
    .await
    .unwrap();
    let err = a
        .create_user_with_code(
            user("carol", "sub-3"),
            CodeRow {
                username: "carol".into(),
                ..code("new", CodePurpose::ConfirmSignUp, 100)
            },
        )
        .await;
    assert!(matches!(err, Err(StoreError::Conflict)));
    assert!(
        matches!(b.find_user(&POOL, "carol").await, Err(StoreError::NotFound)),
        "the user row was rolled back with the failed code insert"
    );
}

async fn first_session_binding_wins(a: S, b: S) {
    let alice = SessionOwner {
        issuer: "i".into(),
        sub: "alice".into(),
    };
    let bob = SessionOwner {
        issuer: "i".into(),
        sub: "bob".into(),
    };
    assert_eq!(
        a.bind_session("arn", "sess", &alice, 1).await.unwrap(),
        alice
    );
    assert_eq!(b.bind_session("arn", "sess", &bob, 2).await.unwrap(), alice);
    assert_eq!(
        b.bind_session("arn2", "sess", &bob, 2).await.unwrap(),
        bob,
        "bindings are per runtime"
    );
    assert_eq!(a.session_owner("arn", "sess").await.unwrap(), Some(alice));
    assert_eq!(a.session_owner("arn", "other").await.unwrap(), None);
}

async fn concurrent_bindings_of_one_session_agree_on_the_first(a: S, b: S) {
    for round in 0..5 {
        let session = format!("race-{round}");
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let session = session.clone();
            tasks.push(tokio::spawn(async move {
                let me = SessionOwner {
                    issuer: "i".into(),
                    sub: format!("user{i}"),
                };
                s.bind_session("arn", &session, &me, 1).await.unwrap()
            }));
        }
        let mut owners = HashSet::new();
        for t in tasks {
            owners.insert(t.await.unwrap());
        }
        assert_eq!(
            owners.len(),
            1,
            "round {round}: every binder sees one owner"
        );
        let owner = owners.into_iter().next().unwrap();
        assert_eq!(b.session_owner("arn", &session).await.unwrap(), Some(owner));
    }
}

async fn runtime_arn_is_stable(a: S, b: S) {
    assert_eq!(
        a.ensure_runtime_arn("demo", "arn:1", 1).await.unwrap(),
        "arn:1"
    );
    assert_eq!(
        b.ensure_runtime_arn("demo", "arn:2", 2).await.unwrap(),
        "arn:1"
    );
}

async fn rotation_grace_and_reuse(s: S, b: S) {
    with_user(&s).await;
    s.insert_refresh_token(refresh("t0", "t0", "o0"))
        .await
        .unwrap();
    let r = s
        .rotate_refresh_token("t0", refresh("t1", "ignored", "o1"), 5, 100)
        .await
        .unwrap();
    assert!(matches!(r, RotateOutcome::Rotated(ref old) if old.token_hash == "t0"));
    let t1 = b.find_refresh_token("t1").await.unwrap();
    assert_eq!(t1.family_id, "t0", "a successor joins the family");
    assert_eq!(
        b.find_refresh_token("t0").await.unwrap().rotated_at,
        Some(100)
    );
    // Within the grace period: another successor of the same family.
    let r = b
        .rotate_refresh_token("t0", refresh("t2", "x", "o2"), 5, 105)
        .await
        .unwrap();
    assert!(matches!(r, RotateOutcome::Rotated(_)));
    // After it: reuse, and the family is gone, with one revocation row per origin_jti.
    let r = s
        .rotate_refresh_token("t0", refresh("t3", "x", "o3"), 5, 106)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Reuse);
    for h in ["t0", "t1", "t2"] {
        assert!(
            b.find_refresh_token(h).await.unwrap().revoked_at.is_some(),
            "{h}"
        );
    }
    assert!(matches!(
        s.find_refresh_token("t3").await,
        Err(StoreError::NotFound)
    ));
    let rows = b.revocations_after(0, 100).await.unwrap();
    let jtis: Vec<_> = rows.iter().filter_map(|r| r.origin_jti.clone()).collect();
    assert_eq!(jtis, vec!["o0", "o1", "o2"]);
    assert!(b.origin_revoked(&POOL, "o1").await.unwrap());
    assert_eq!(
        s.rotate_refresh_token("t1", refresh("t4", "x", "o4"), 5, 107)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(
        s.rotate_refresh_token("nope", refresh("t5", "x", "o5"), 5, 107)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    s.insert_refresh_token(RefreshRow {
        expires_at: 50,
        ..refresh("old", "old", "o6")
    })
    .await
    .unwrap();
    assert_eq!(
        s.rotate_refresh_token("old", refresh("t6", "x", "o7"), 5, 107)
            .await
            .unwrap(),
        RotateOutcome::Invalid,
        "an expired token is not rotated"
    );
}

/// Races `n` rotations of `old` (half on each instance) at the same second; returns the outcomes.
async fn race_rotations(a: &S, b: &S, old: &str, grace: i64, n: usize) -> Vec<RotateOutcome> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let old = old.to_string();
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh_token(
                &old,
                refresh(&format!("{old}-succ{i}"), "x", &format!("{old}-o{i}")),
                grace,
                200,
            )
            .await
            .unwrap()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn concurrent_rotations_within_grace_share_one_family(a: S, b: S) {
    with_user(&a).await;
    a.insert_refresh_token(refresh("g0", "g0", "og"))
        .await
        .unwrap();
    let outcomes = race_rotations(&a, &b, "g0", 5, 8).await;
    // IdP semantics: concurrent refreshes within the grace period never log the user out.
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, RotateOutcome::Rotated(_))),
        "{outcomes:?}"
    );
    let old = a.find_refresh_token("g0").await.unwrap();
    assert_eq!(old.rotated_at, Some(200), "marked rotated once");
    for i in 0..8 {
        let s = a.find_refresh_token(&format!("g0-succ{i}")).await.unwrap();
        assert_eq!(s.family_id, "g0");
        assert!(s.revoked_at.is_none());
    }
}

async fn concurrent_rotations_without_grace_one_wins_the_rest_is_reuse(a: S, b: S) {
    with_user(&a).await;
    for round in 0..6 {
        let old = format!("r{round}");
        a.insert_refresh_token(refresh(&old, &old, &format!("o{round}")))
            .await
            .unwrap();
        // A negative grace: a token may be exchanged exactly once, even within its rotation's second. Two
        // instances at once in most rounds, eight in the last ones.
        let n = if round < 4 { 2 } else { 8 };
        let outcomes = race_rotations(&a, &b, &old, -1, n).await;
        let count = |f: &dyn Fn(&RotateOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
        assert_eq!(
            count(&|o| matches!(o, RotateOutcome::Rotated(_))),
            1,
            "round {round}: exactly one wins: {outcomes:?}"
        );
        // The first loser detects the reuse and revokes the family; later ones find it revoked.
        let reuse = count(&|o| *o == RotateOutcome::Reuse);
        assert!(
            reuse >= 1 && (n > 2 || reuse == 1),
            "round {round}: the loser must detect reuse: {outcomes:?}"
        );
        assert_eq!(
            count(&|o| *o == RotateOutcome::Reuse || *o == RotateOutcome::Invalid),
            n - 1,
            "round {round}: {outcomes:?}"
        );
        // The family is revoked, the winner's successor included, and its origin is on the revocation list.
        for i in 0..n {
            if let Ok(row) = b.find_refresh_token(&format!("{old}-succ{i}")).await {
                assert!(
                    row.revoked_at.is_some(),
                    "round {round}: successor {i} live"
                );
            }
        }
        assert!(b
            .find_refresh_token(&old)
            .await
            .unwrap()
            .revoked_at
            .is_some());
        assert!(b.origin_revoked(&POOL, &format!("o{round}")).await.unwrap());
    }
}

async fn a_failed_rotation_leaves_nothing_half_written(a: S, b: S) {
    with_user(&a).await;
    a.insert_refresh_token(refresh("f0", "f0", "of0"))
        .await
        .unwrap();
    a.insert_refresh_token(refresh("taken", "taken", "of1"))
        .await
        .unwrap();
    // The successor's insert fails (its hash exists) after the old token was marked rotated in the same
    // transaction: the mark must be rolled back.
    let r = b
        .rotate_refresh_token("f0", refresh("taken", "x", "of2"), 0, 100)
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    let old = a.find_refresh_token("f0").await.unwrap();
    assert_eq!(old.rotated_at, None, "the rotation was rolled back");
    assert!(old.revoked_at.is_none());
    // And the token still rotates normally afterwards.
    assert!(matches!(
        a.rotate_refresh_token("f0", refresh("f1", "x", "of3"), 0, 101)
            .await
            .unwrap(),
        RotateOutcome::Rotated(_)
    ));
}

async fn revocation_rows_follow_the_contract(s: S, b: S) {
    let u = with_user(&s).await;
    s.insert_refresh_token(refresh("t0", "t0", "o0"))
        .await
        .unwrap();
    s.insert_refresh_token(refresh("t9", "t9", "o9"))
        .await
        .unwrap();
    assert!(matches!(
        s.revoke_refresh_family("t0", &"other-client".into(), 200)
            .await,
        Err(StoreError::NotFound)
    ));
    b.revoke_refresh_family("t0", &"c1".into(), 200)
        .await
        .unwrap();
    assert!(s.origin_revoked(&POOL, "o0").await.unwrap());
    assert!(!s.origin_revoked(&POOL, "o9").await.unwrap());
    s.global_sign_out(&POOL, &u.sub, 300).await.unwrap();
    assert!(
        b.find_refresh_token("t9")
            .await
            .unwrap()
            .revoked_at
            .is_some(),
        "sign-out revokes every refresh token"
    );
    assert_eq!(
        b.latest_sub_revocation(&POOL, &u.sub).await.unwrap(),
        Some(300)
    );
    s.set_user_enabled(&POOL, "alice", false, 400)
        .await
        .unwrap();
    assert!(!b.find_user(&POOL, "alice").await.unwrap().enabled);
    assert_eq!(
        b.latest_sub_revocation(&POOL, &u.sub).await.unwrap(),
        Some(i64::MAX)
    );
    b.set_user_enabled(&POOL, "alice", true, 500).await.unwrap();
    assert_eq!(
        s.latest_sub_revocation(&POOL, &u.sub).await.unwrap(),
        Some(500)
    );
    s.set_password(&POOL, "alice", password("h2"), true, 600)
        .await
        .unwrap();
    s.put_code(code("c", CodePurpose::ForgotPassword, 10_000))
        .await
        .unwrap();
    b.delete_user(&POOL, "alice", 700).await.unwrap();
    assert!(matches!(
        s.find_user(&POOL, "alice").await,
        Err(StoreError::NotFound)
    ));
    let rows = b.revocations_after(0, 100).await.unwrap();
    let subs: Vec<_> = rows
        .iter()
        .filter(|r| r.sub.is_some())
        .map(|r| r.not_before)
        .collect();
    assert_eq!(subs, vec![300, i64::MAX, 500, 600, i64::MAX]);
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    let after = s.revocations_after(rows[2].id, 2).await.unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].id, rows[3].id);
    assert!(matches!(
        s.set_user_enabled(&POOL, "alice", true, 800).await,
        Err(StoreError::NotFound)
    ));
    // The deleted user's code went with it: a new alice starts clean.
    s.create_user(user("alice", "sub-new")).await.unwrap();
    assert_eq!(
        s.use_code(
            attempt("alice", CodePurpose::ForgotPassword, "c", 3),
            CodeEffect::Confirm,
            50
        )
        .await
        .unwrap(),
        CodeCheck::Expired
    );
}

async fn concurrent_revocations_are_seen_by_a_poller_without_gaps(a: S, b: S) {
    a.ensure_default_pool(pool(POOL.as_str()), client("c1"))
        .await
        .unwrap();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let s = if w % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                for i in 0..25 {
                    s.global_sign_out(&POOL, &format!("w{w}-u{i}").into(), 1000 + i)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    // A poller that only ever asks for ids after the last one it saw, as every instance's gateway does; it
    // polls until the writers are done, then once more.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let s = b.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut last = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                for r in s.revocations_after(last, 1000).await.unwrap() {
                    assert!(r.id > last);
                    last = r.id;
                    seen.push(r.sub.unwrap());
                }
                if finished {
                    return seen;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = poller.await.unwrap();
    let all = a.revocations_after(0, 1000).await.unwrap();
    assert_eq!(all.len(), 200);
    assert_eq!(
        seen.len(),
        200,
        "the poller missed {} revocations committed out of id order",
        200 - seen.len()
    );
}

async fn codes_are_single_use_expire_and_count_attempts(s: S, b: S) {
    with_user(&s).await;
    let check = |st: &S, h: &'static str, now: i64| {
        let st = st.clone();
        async move {
            st.use_code(
                attempt("alice", CodePurpose::ConfirmSignUp, h, 3),
                CodeEffect::Confirm,
                now,
            )
            .await
            .unwrap()
        }
    };
    s.put_code(code("good", CodePurpose::ConfirmSignUp, 100))
        .await
        .unwrap();
    assert_eq!(check(&s, "bad", 50).await, CodeCheck::Mismatch);
    assert_eq!(check(&b, "good", 100).await, CodeCheck::Expired);
    assert_eq!(check(&b, "good", 50).await, CodeCheck::Ok);
    let u = s.find_user(&POOL, "alice").await.unwrap();
    assert_eq!(u.status, UserStatus::Confirmed);
    assert!(u.email_verified);
    assert_eq!(
        check(&s, "good", 50).await,
        CodeCheck::Expired,
        "single use"
    );
    s.put_code(code("good", CodePurpose::ConfirmSignUp, 100))
        .await
        .unwrap();
    assert_eq!(check(&s, "bad", 50).await, CodeCheck::Mismatch);
    assert_eq!(check(&b, "bad", 50).await, CodeCheck::Mismatch);
    assert_eq!(check(&s, "bad", 50).await, CodeCheck::TooManyAttempts);
    assert_eq!(check(&b, "good", 50).await, CodeCheck::Expired);
    assert_eq!(
        s.use_code(
            attempt("nobody", CodePurpose::ConfirmSignUp, "good", 3),
            CodeEffect::Confirm,
            50
        )
        .await
        .unwrap(),
        CodeCheck::Expired
    );
}

async fn a_code_raced_by_two_instances_is_used_once(a: S, b: S) {
    with_user(&a).await;
    for round in 0..3 {
        a.put_code(code("good", CodePurpose::ConfirmSignUp, 100))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                s.use_code(
                    attempt("alice", CodePurpose::ConfirmSignUp, "good", 3),
                    CodeEffect::Confirm,
                    50,
                )
                .await
                .unwrap()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                CodeCheck::Ok => ok += 1,
                CodeCheck::Expired => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(ok, 1, "round {round}: exactly one use succeeds");
    }
}

async fn reset_code_changes_password_and_revokes_in_one_step(a: S, b: S) {
    let u = with_user(&a).await;
    a.insert_refresh_token(refresh("t0", "t0", "o0"))
        .await
        .unwrap();
    a.put_code(code("rc", CodePurpose::ForgotPassword, 100))
        .await
        .unwrap();
    let effect = CodeEffect::ResetPassword(password("reset-hash"));
    assert_eq!(
        b.use_code(
            attempt("alice", CodePurpose::ForgotPassword, "rc", 3),
            effect.clone(),
            60
        )
        .await
        .unwrap(),
        CodeCheck::Ok
    );
    let got = a.find_user(&POOL, "alice").await.unwrap();
    assert_eq!(got.password_hash, "reset-hash");
    assert!(got.email_verified);
    assert!(a
        .find_refresh_token("t0")
        .await
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(
        a.latest_sub_revocation(&POOL, &u.sub).await.unwrap(),
        Some(60)
    );
    assert_eq!(
        b.use_code(
            attempt("alice", CodePurpose::ForgotPassword, "rc", 3),
            effect,
            61
        )
        .await
        .unwrap(),
        CodeCheck::Expired
    );
}

async fn the_first_instance_to_claim_a_session_process_wins(a: S, b: S) {
    let owner = SessionOwner {
        issuer: "i".into(),
        sub: "alice".into(),
    };
    assert_eq!(
        a.claim_session_instance("arn", "unbound", "A")
            .await
            .unwrap(),
        None,
        "an unbound session has no process"
    );
    a.bind_session("arn", "s1", &owner, 1).await.unwrap();
    assert_eq!(b.session_instance("arn", "s1").await.unwrap(), None);
    assert_eq!(
        a.claim_session_instance("arn", "s1", "A")
            .await
            .unwrap()
            .as_deref(),
        Some("A")
    );
    assert_eq!(
        b.claim_session_instance("arn", "s1", "B")
            .await
            .unwrap()
            .as_deref(),
        Some("A"),
        "the first claim wins"
    );
    b.release_session_instance("arn", "s1", "B").await.unwrap();
    assert_eq!(
        b.session_instance("arn", "s1").await.unwrap().as_deref(),
        Some("A"),
        "only the holder releases"
    );
    a.release_session_instance("arn", "s1", "A").await.unwrap();
    assert_eq!(a.session_instance("arn", "s1").await.unwrap(), None);
    assert_eq!(
        b.claim_session_instance("arn", "s1", "B")
            .await
            .unwrap()
            .as_deref(),
        Some("B")
    );
    // A race: every claimer agrees on one instance.
    a.bind_session("arn", "s2", &owner, 1).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.claim_session_instance("arn", "s2", &format!("inst{i}"))
                .await
                .unwrap()
                .unwrap()
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
}

async fn revocations_and_keys_are_pushed_to_other_instances(a: S, b: S) {
    // Backends without a push channel (SQLite) rely on polling alone.
    let Some(mut changes) = b.changes() else {
        return;
    };
    with_user(&a).await;
    // The listener is connected once the first signal arrives.
    tokio::time::timeout(std::time::Duration::from_secs(10), changes.changed())
        .await
        .expect("the change listener connects")
        .unwrap();
    changes.borrow_and_update();
    let t = std::time::Instant::now();
    a.global_sign_out(&POOL, &"sub-1".into(), 100)
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), changes.changed())
        .await
        .expect("a revocation committed on A is announced to B")
        .unwrap();
    changes.borrow_and_update();
    a.insert_signing_key(KeyRow {
        kid: "pushed".into(),
        pool_id: POOL.clone(),
        pkcs8: vec![1],
        created_at: 1,
    })
    .await
    .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), changes.changed())
        .await
        .expect("a key inserted on A is announced to B")
        .unwrap();
    eprintln!("two changes pushed across instances in {:?}", t.elapsed());
    // A rolled-back revocation announces nothing.
    changes.borrow_and_update();
    assert!(matches!(
        a.set_user_enabled(&POOL, "nobody", false, 1).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), changes.changed())
            .await
            .is_err(),
        "nothing committed, nothing announced"
    );
}

async fn a_pending_sign_in_is_taken_once_by_any_instance(a: S, b: S) {
    a.put_pending("k1", "payload-1", 100, 10).await.unwrap();
    assert_eq!(
        b.take_pending("k1", 20).await.unwrap().as_deref(),
        Some("payload-1")
    );
    assert_eq!(a.take_pending("k1", 20).await.unwrap(), None, "single use");
    a.put_pending("k2", "old", 100, 10).await.unwrap();
    a.put_pending("k2", "new", 100, 10).await.unwrap();
    assert_eq!(
        b.take_pending("k2", 20).await.unwrap().as_deref(),
        Some("new")
    );
    a.put_pending("k3", "p", 100, 10).await.unwrap();
    assert_eq!(b.take_pending("k3", 100).await.unwrap(), None, "expired");
    // Races: of eight takers on two instances, one gets it.
    for round in 0..3 {
        let key = format!("race{round}");
        a.put_pending(&key, "p", 100, 10).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                s.take_pending(&key, 20).await.unwrap()
            }));
        }
        let mut got = 0;
        for t in tasks {
            got += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!(got, 1, "round {round}");
    }
}
