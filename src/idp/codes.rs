//! One-time codes (sign-up confirmation, password reset, e-mail verification): six digits, stored hashed,
//! single-use, expiring, delivered by `mail`, and limited: issuance per client address (in memory) and per
//! user (in the store, across instances), wrong codes counted per user across re-issues within the window, then
//! every code flow of the user locked for `[idp] code_lockout_secs` (`LimitExceededException`). Must never log
//! a code.
use std::net::IpAddr;

use serde_json::{json, Value};

use super::{CognitoError, IdpState};
use crate::store::{
    CodeAttempt, CodeCheck, CodeEffect, CodeEvent, CodeFlows, CodeGate, CodePurpose, CodeRow,
    PoolId,
};
use crate::util::{random_bytes, sha256_hex};

/// Purpose of a sign-up confirmation code.
pub const CONFIRM: CodePurpose = CodePurpose::ConfirmSignUp;
/// Purpose of a password-reset code.
pub const RESET: CodePurpose = CodePurpose::ForgotPassword;
/// Purpose of an e-mail verification code (`GetUserAttributeVerificationCode`, a changed e-mail).
pub const VERIFY_EMAIL: CodePurpose = CodePurpose::VerifyEmail;

fn six_digits() -> String {
    loop {
        let b = random_bytes(4);
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        // Rejection sampling: uniform over 0..1_000_000.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// The stored hash of a code.
pub fn code_hash(pool_id: &PoolId, username: &str, purpose: CodePurpose, code: &str) -> String {
    sha256_hex(format!("{pool_id}\n{username}\n{purpose}\n{code}").as_bytes())
}

/// `a***@e***`, as Cognito masks a destination.
pub fn mask(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    format!("{}***@{}***", first(local), first(domain))
}

/// `CodeDeliveryDetails` for `email`.
pub fn delivery(email: &str) -> Value {
    json!({"Destination": mask(email), "DeliveryMedium": "EMAIL", "AttributeName": "email"})
}

/// A delivery answer where nothing is sent (unknown user, disabled user, no verified address), shaped like a
/// real one and stable per username, so that the answer does not tell the cases apart.
pub fn fake_delivery(state: &IdpState, username: &str) -> Value {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let h = sha256_hex(format!("{}\n{username}", hex_of(&state.fake_secret)).as_bytes());
    let b = h.as_bytes();
    let pick = |i: usize| char::from(LETTERS[usize::from(b[i]) % LETTERS.len()]);
    delivery(&format!("{}@{}", pick(0), pick(1)))
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Refuses when `ip` has been sent too many codes (`[idp] max_codes_per_ip_per_hour`). Called for every
/// issuing request, whether or not the user exists.
pub fn admit_address(state: &IdpState, ip: Option<IpAddr>) -> Result<(), CognitoError> {
    state.code_issue.admit(ip, state.clock.now_unix())
}

fn limited() -> CognitoError {
    CognitoError::LimitExceeded
}

/// Counts, stores and mails a new code for `username` to `email`.
pub async fn issue(
    state: &IdpState,
    username: &str,
    email: &str,
    purpose: CodePurpose,
) -> Result<Value, CognitoError> {
    let now = state.clock.now_unix();
    let policy = state.settings.code_policy;
    match state
        .store
        .count_code(
            CodeFlows {
                pool_id: &state.pool.id,
                username,
                policy,
            },
            CodeEvent::Issued,
            now,
        )
        .await?
    {
        CodeGate::Open => {}
        CodeGate::Limited | CodeGate::Locked => return Err(limited()),
    }
    let (code, row) = new_code(state, username, purpose);
    state.store.put_code(row.clone()).await?;
    deliver(state, username, email, &code, &row).await
}

/// A new code for `username` and the row that stores its hash.
pub fn new_code(state: &IdpState, username: &str, purpose: CodePurpose) -> (String, CodeRow) {
    let now = state.clock.now_unix();
    let code = six_digits();
    let lifetime = match purpose {
        CONFIRM | VERIFY_EMAIL => state.settings.confirm_code_lifetime,
        _ => state.settings.reset_code_lifetime,
    };
    let row = CodeRow {
        pool_id: state.pool.id.clone(),
        username: username.to_string(),
        purpose,
        code_hash: code_hash(&state.pool.id, username, purpose, &code),
        expires_at: now + lifetime,
        created_at: now,
    };
    (code, row)
}

/// Mails a stored code.
pub async fn deliver(
    state: &IdpState,
    username: &str,
    email: &str,
    code: &str,
    row: &CodeRow,
) -> Result<Value, CognitoError> {
    let purpose = row.purpose;
    let minutes = (row.expires_at - row.created_at) / 60;
    let (subject, what) = match purpose {
        CONFIRM => ("Your verification code", "confirmation code"),
        VERIFY_EMAIL => ("Verify your new e-mail address", "verification code"),
        _ => ("Your password reset code", "password reset code"),
    };
    let body = format!("Your {what} is {code}\n\nIt expires in {minutes} minutes.\n");
    state
        .mailer
        .send(&super::mail::Message {
            to: email,
            subject,
            body: &body,
            date_unix: row.created_at,
        })
        .await
        .map_err(|e| CognitoError::Internal(format!("code delivery: {e}")))?;
    tracing::info!(%username, %purpose, "code sent");
    Ok(delivery(email))
}

/// Checks a code: refused while the user's code flows are locked; a wrong code counts against the user across
/// re-issues and may lock them.
pub async fn check(
    state: &IdpState,
    username: &str,
    purpose: CodePurpose,
    code: &str,
    effect: CodeEffect,
) -> Result<Value, CognitoError> {
    let now = state.clock.now_unix();
    let pool = &state.pool.id;
    if state.store.code_gate(pool, username, now).await? == CodeGate::Locked {
        return Err(limited());
    }
    let hash = code_hash(pool, username, purpose, code);
    let r = state
        .store
        .use_code(
            CodeAttempt {
                pool_id: pool,
                username,
                purpose,
                code_hash: &hash,
                max_attempts: state.settings.max_code_attempts,
            },
            effect,
            now,
        )
        .await?;
    let refusal = match r {
        CodeCheck::Ok => return Ok(json!({})),
        CodeCheck::Mismatch => CognitoError::CodeMismatch,
        CodeCheck::Expired => CognitoError::ExpiredCode,
        CodeCheck::TooManyAttempts => CognitoError::LimitExceeded,
    };
    let policy = state.settings.code_policy;
    if r != CodeCheck::Expired
        && state
            .store
            .count_code(
                CodeFlows {
                    pool_id: pool,
                    username,
                    policy,
                },
                CodeEvent::Failed,
                now,
            )
            .await?
            == CodeGate::Locked
    {
        tracing::warn!(%username, %purpose, "code flows locked after repeated wrong codes");
        return Err(limited());
    }
    Err(refusal)
}
