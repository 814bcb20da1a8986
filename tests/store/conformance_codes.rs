//! The store contract of the code-flow limits and the pending e-mail, for every backend (SQLite and
//! PostgreSQL, two handles on one database each, as in `store::conformance`): issuance counted per user within a
//! window, wrong codes counted across re-issues, the lockout and its end, a pending address that becomes the
//! active one only through a verification code.
use gatehouse::store::{
    CodeCheck, CodeEffect, CodeEvent, CodeFlows, CodeGate, CodePolicy, CodePurpose,
};

use crate::store::conformance::{
    attempt, both_backends, code, postgres_pair, sqlite_pair, with_user, POOL, S,
};

both_backends!(
    code_issuance_is_counted_per_user_within_the_window,
    concurrent_issuance_is_counted_exactly,
    wrong_codes_count_across_reissues_then_lock_until_the_lockout_ends,
    a_pending_email_becomes_active_only_through_its_code,
);

const POLICY: CodePolicy = CodePolicy {
    window_secs: 100,
    max_issued: 3,
    max_failures: 4,
    lockout_secs: 50,
};

fn flows(username: &str) -> CodeFlows<'_> {
    CodeFlows {
        pool_id: &POOL,
        username,
        policy: POLICY,
    }
}

async fn code_issuance_is_counted_per_user_within_the_window(a: S, b: S) {
    with_user(&a).await;
    for (i, st) in [&a, &b, &a].into_iter().enumerate() {
        assert_eq!(
            st.count_code(flows("alice"), CodeEvent::Issued, 10 + i as i64)
                .await
                .unwrap(),
            CodeGate::Open
        );
    }
    assert_eq!(
        b.count_code(flows("alice"), CodeEvent::Issued, 20)
            .await
            .unwrap(),
        CodeGate::Limited
    );
    assert_eq!(
        a.count_code(flows("bob"), CodeEvent::Issued, 20)
            .await
            .unwrap(),
        CodeGate::Open,
        "per user"
    );
    // A new window starts afresh.
    assert_eq!(
        a.count_code(flows("alice"), CodeEvent::Issued, 111)
            .await
            .unwrap(),
        CodeGate::Open
    );
    assert_eq!(
        a.code_gate(&POOL, "alice", 111).await.unwrap(),
        CodeGate::Open
    );
}

async fn concurrent_issuance_is_counted_exactly(a: S, b: S) {
    with_user(&a).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let st = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            st.count_code(flows("alice"), CodeEvent::Issued, 10)
                .await
                .unwrap()
        }));
    }
    let mut open = 0;
    for t in tasks {
        if t.await.unwrap() == CodeGate::Open {
            open += 1;
        }
    }
    assert_eq!(open, 3, "exactly max_issued codes are admitted");
}

async fn wrong_codes_count_across_reissues_then_lock_until_the_lockout_ends(a: S, b: S) {
    with_user(&a).await;
    let fail = |st: &S, now: i64| {
        let st = st.clone();
        async move {
            st.count_code(flows("alice"), CodeEvent::Failed, now)
                .await
                .unwrap()
        }
    };
    a.put_code(code("c1", CodePurpose::ForgotPassword, 1_000))
        .await
        .unwrap();
    assert_eq!(fail(&a, 10).await, CodeGate::Open);
    assert_eq!(fail(&b, 11).await, CodeGate::Open);
    // A re-issue does not reset the count.
    b.put_code(code("c2", CodePurpose::ForgotPassword, 1_000))
        .await
        .unwrap();
    assert_eq!(fail(&a, 12).await, CodeGate::Open);
    assert_eq!(fail(&b, 13).await, CodeGate::Locked, "4th failure locks");
    assert_eq!(
        a.code_gate(&POOL, "alice", 14).await.unwrap(),
        CodeGate::Locked
    );
    assert_eq!(
        a.count_code(flows("alice"), CodeEvent::Issued, 14)
            .await
            .unwrap(),
        CodeGate::Locked
    );
    // The user's codes are gone with the lock.
    let r = a
        .use_code(
            attempt("alice", CodePurpose::ForgotPassword, "c2", 5),
            CodeEffect::Confirm,
            20,
        )
        .await
        .unwrap();
    assert_eq!(r, CodeCheck::Expired);
    // The lockout ends; the count starts again.
    assert_eq!(
        b.code_gate(&POOL, "alice", 63).await.unwrap(),
        CodeGate::Open
    );
    assert_eq!(fail(&a, 64).await, CodeGate::Open);
    assert_eq!(
        a.code_gate(&POOL, "other", 64).await.unwrap(),
        CodeGate::Open
    );
}

async fn a_pending_email_becomes_active_only_through_its_code(a: S, b: S) {
    with_user(&a).await;
    a.set_pending_email(&POOL, "alice", Some("new@example.com".into()))
        .await
        .unwrap();
    let u = b.find_user(&POOL, "alice").await.unwrap();
    assert_eq!(u.email.as_deref(), Some("alice@example.com"));
    assert_eq!(u.pending_email.as_deref(), Some("new@example.com"));
    a.put_code(code("v", CodePurpose::VerifyEmail, 100))
        .await
        .unwrap();
    let r = b
        .use_code(
            attempt("alice", CodePurpose::VerifyEmail, "bad", 5),
            CodeEffect::VerifyEmail,
            50,
        )
        .await
        .unwrap();
    assert_eq!(r, CodeCheck::Mismatch);
    assert_eq!(
        a.find_user(&POOL, "alice").await.unwrap().email.as_deref(),
        Some("alice@example.com")
    );
    let r = b
        .use_code(
            attempt("alice", CodePurpose::VerifyEmail, "v", 5),
            CodeEffect::VerifyEmail,
            50,
        )
        .await
        .unwrap();
    assert_eq!(r, CodeCheck::Ok);
    let u = a.find_user(&POOL, "alice").await.unwrap();
    assert_eq!(u.email.as_deref(), Some("new@example.com"));
    assert!(u.email_verified);
    assert!(u.pending_email.is_none());
    assert!(matches!(
        a.set_pending_email(&POOL, "nobody", None).await,
        Err(gatehouse::store::StoreError::NotFound)
    ));
}
