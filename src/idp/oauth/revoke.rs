//! `POST /oauth2/revoke` (RFC 7009): the client authenticated as at the token endpoint, then Cognito's
//! `RevokeToken` itself (`refresh::revoke_token`: the refresh token's family and every token minted from it).
//! An unknown token answers 200, as RFC 7009 §2.2 asks; an access or ID token is `unsupported_token_type`.
//! Must never revoke another client's token.
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::error::{no_store, OAuthError};
use super::token::{authenticate, form_params, FormBody};
use crate::idp::refresh::{revoke_token, RevokeRequest};
use crate::idp::{CognitoError, IdpState};

/// `POST /oauth2/revoke`.
pub async fn revoke(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    form: FormBody,
) -> Response {
    let ip = extensions.get::<crate::net::ClientAddr>().map(|c| c.0);
    let result = async {
        let p = form_params(form)?;
        let token = p.required("token")?.to_string();
        let client = authenticate(&state, &headers, &p, ip).await?;
        let req = RevokeRequest {
            token: Some(token),
            client_id: Some(client.id.to_string()),
            // Authenticated above; the shared check then compares the secret with itself.
            client_secret: client.secret.clone(),
        };
        revoke_token(&state, req).await.map_err(|e| match e {
            CognitoError::UnsupportedTokenType => OAuthError::UnsupportedTokenType(
                "only refresh tokens can be revoked; access and ID tokens expire by themselves"
                    .into(),
            ),
            CognitoError::Unauthorized => {
                OAuthError::UnauthorizedClient("the token was issued to another client".into())
            }
            other => other.into(),
        })
    }
    .await;
    match result {
        Ok(_) => {
            let mut resp = ().into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => e.into_response(),
    }
}
