//! The `authorization_code` grant: the code (by hash) bound to the authenticated client, the exact
//! `redirect_uri` of its request and its PKCE S256 challenge (RFC 7636; a code issued without one refuses a
//! verifier, so PKCE cannot be stripped), redeemed once — a replay revokes the refresh token the first
//! redemption issued — and the tokens Cognito mints for it (`scope`, `auth_time`, the ID token's `nonce`, an RFC
//! 8707 resource as the access token's `aud`). Must never log a code or a verifier, nor exchange another
//! client's code.
use aws_lc_rs::{constant_time, digest};
use base64::Engine as _;

use super::error::OAuthError;
use super::params::Params;
use crate::idp::mint::{access_and_id_granted, new_refresh_token, refresh_row, Grant};
use crate::idp::IdpState;
use crate::store::{ClientRow, RedeemOutcome, StoreError};
use crate::util::sha256_hex;

fn invalid(why: &str) -> OAuthError {
    OAuthError::InvalidGrant(why.to_string())
}

/// Whether `verifier` is an RFC 7636 code verifier (43 to 128 unreserved characters).
fn is_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

/// `grant_type=authorization_code`.
pub async fn exchange(
    state: &IdpState,
    client: &ClientRow,
    p: &Params,
) -> Result<serde_json::Value, OAuthError> {
    let code = p.required("code")?;
    let redirect_uri = p.required("redirect_uri")?;
    if code.len() > 256 {
        return Err(invalid("the code is invalid or expired"));
    }
    let code_hash = sha256_hex(code.as_bytes());
    let now = state.clock.now_unix();
    let Some(row) = state.store.find_auth_code(&code_hash).await? else {
        return Err(invalid("the code is invalid or expired"));
    };
    if row.client_id != client.id || row.pool_id != state.pool.id {
        return Err(invalid("the code was issued to another client"));
    }
    if row.used_at.is_some() {
        state.store.redeem_auth_code(&code_hash, None, now).await?;
        tracing::warn!(client_id = %client.id, sub = %row.sub, "authorization code replayed; its tokens revoked");
        return Err(invalid(
            "the code was used already; the tokens it issued are revoked",
        ));
    }
    if row.expires_at <= now {
        return Err(invalid("the code is invalid or expired"));
    }
    if row.redirect_uri != redirect_uri {
        return Err(invalid(
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&row.code_challenge, p.get("code_verifier")) {
        (Some(challenge), Some(v)) => {
            let ok = is_verifier(v)
                && constant_time::verify_slices_are_equal(s256(v).as_bytes(), challenge.as_bytes())
                    .is_ok();
            if !ok {
                return Err(invalid("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(invalid("code_verifier is required (PKCE)")),
        (None, Some(_)) => {
            return Err(invalid(
                "code_verifier was sent but the authorization request had no code_challenge",
            ))
        }
        (None, None) => {}
    }
    let user = match state.store.find_user_by_sub(&state.pool.id, &row.sub).await {
        Ok(u) if u.enabled => u,
        Ok(_) | Err(StoreError::NotFound) => return Err(invalid("the user cannot sign in")),
        Err(e) => return Err(e.into()),
    };
    let (refresh, refresh_hash) = new_refresh_token();
    let refresh_row = refresh_row(state, refresh_hash, &user, client, row.auth_time, now);
    let origin = refresh_row.origin_jti.clone();
    let code_row = match state
        .store
        .redeem_auth_code(&code_hash, Some(refresh_row), now)
        .await?
    {
        RedeemOutcome::Redeemed(c) => c,
        RedeemOutcome::Replayed => {
            return Err(invalid(
                "the code was used already; the tokens it issued are revoked",
            ))
        }
        RedeemOutcome::Invalid => return Err(invalid("the code is invalid or expired")),
    };
    let grant = Grant {
        scope: &code_row.scope,
        nonce: code_row.nonce.as_deref(),
        aud: code_row.resource.as_deref(),
    };
    let result = access_and_id_granted(
        state,
        &user,
        client,
        code_row.auth_time,
        &origin,
        Some(grant),
    )
    .await?;
    let mut body = serde_json::json!({
        "access_token": result.access_token,
        "refresh_token": refresh,
        "expires_in": result.expires_in,
        "token_type": result.token_type,
    });
    if code_row.scope.split(' ').any(|s| s == "openid") {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("id_token".into(), serde_json::json!(result.id_token));
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_verifier(v));
        assert_eq!(s256(v), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(!is_verifier("short"));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
    }
}
