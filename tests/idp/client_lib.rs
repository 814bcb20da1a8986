//! A real, widely used Cognito client library against gatehouse: amazon-cognito-identity-js (installed by
//! scripts/test into tests/cognito-js/) signs in with SRP and refreshes with browser-like storage, which sends
//! `"DEVICE_KEY": null` — the AWS JSON null member that used to break refresh. Owns no production code.
use crate::common::{node_driver, password, shared};

#[tokio::test]
async fn amazon_cognito_identity_js_signs_in_with_srp_and_refreshes_with_a_null_device_key() {
    let dir = node_driver::driver_dir("cognito-js", "amazon-cognito-identity-js");
    let g = shared();
    let user = g.new_user("cognitojs");
    let endpoint = format!("{}/", g.endpoints.idp.trim_end_matches('/'));
    let env = [
        ("ENDPOINT", endpoint.as_str()),
        ("POOL_ID", g.endpoints.user_pool_id.as_str()),
        ("CLIENT_ID", g.endpoints.client_id.as_str()),
        ("USERNAME", user.as_str()),
    ];
    let report = node_driver::run(&dir, "refresh.mjs", &env, password()).await;
    assert_eq!(report["signed_in"], true, "{report}");
    assert_eq!(
        report["targets"][0], "InitiateAuth",
        "the library starts with InitiateAuth: {report}"
    );
    assert!(
        report["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "RespondToAuthChallenge"),
        "SRP: {report}"
    );
    // The capture proves the case is exercised: the library really sends a null member.
    assert_eq!(
        report["refresh_null_members"],
        serde_json::json!(["DEVICE_KEY"]),
        "{report}"
    );
    assert_eq!(report["refreshed"], true, "{report}");
    assert_eq!(report["new_access_token"], true, "{report}");
    assert_eq!(report["refreshed_sub"], true, "{report}");
}
