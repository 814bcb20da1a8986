//! The user pool's attribute schema from the configuration: declared custom attributes (type, bounds,
//! mutability) in SignUp, UpdateUserAttributes, GetUser and ID tokens; per-client read and write lists; and
//! `config validate` naming each wrong key. Real `gatehouse up` over sockets.
use serde_json::{json, Value};

use crate::common::{assert_refused, password, Gatehouse, BIN};

const SCHEMA: &str = "[[idp.custom_attribute]]\nname = \"tenant\"\nmutable = false\nmax_length = 8\n\
                      [[idp.custom_attribute]]\nname = \"seats\"\ntype = \"Number\"\nmin_value = 1\nmax_value = 100\n";

fn write_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let cfg = dir.join("gatehouse.toml");
    std::fs::write(&cfg, format!("version = 1\n{SCHEMA}{extra}")).unwrap();
    cfg
}

fn id_claims(auth: &Value) -> serde_json::Map<String, Value> {
    let id = auth["IdToken"].as_str().unwrap();
    gatehouse::token::jws::parse(id).unwrap().payload
}

async fn sign_up_confirmed(g: &Gatehouse, client: &str, user: &str, attrs: Value) -> (u16, Value) {
    let mut list = vec![json!({"Name": "email", "Value": format!("{user}@example.com")})];
    list.extend(attrs.as_array().unwrap().iter().cloned());
    let r = g
        .idp(
            "SignUp",
            &json!({"ClientId": client, "Username": user, "Password": password(), "UserAttributes": list}),
        )
        .await;
    if r.0 == 200 {
        let code = g.code_for(&format!("{user}@example.com"), 0);
        let c = g
            .idp(
                "ConfirmSignUp",
                &json!({"ClientId": client, "Username": user, "ConfirmationCode": code}),
            )
            .await;
        assert_eq!(c.0, 200, "{}", c.1);
    }
    r
}

#[tokio::test]
async fn declared_custom_attributes_follow_their_schema_and_the_clients_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = write_config(tmp.path(), "");
    let mut g = Gatehouse::start_in(&data, &["--config", cfg.to_str().unwrap()]);
    let (narrow, _) = g.create_client(&[]);
    g.stop();
    // The narrow client reads only email and writes only name.
    let cfg = write_config(
        tmp.path(),
        &format!(
            "[[idp.app_client]]\nclient_id = \"{narrow}\"\nread_attributes = [\"email\"]\nwrite_attributes = [\"name\"]\n"
        ),
    );
    let g = Gatehouse::start_in(&data, &["--config", cfg.to_str().unwrap()]);
    let client = g.endpoints.client_id.clone();
    let user = format!("schema-{}", gatehouse::util::random_lower_alnum(6));
    let r = sign_up_confirmed(
        &g,
        &client,
        &user,
        json!([{"Name": "custom:tenant", "Value": "acme"}, {"Name": "custom:seats", "Value": "5"}]),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    for (attrs, why) in [
        (
            json!([{"Name": "custom:tenant", "Value": "much-too-long"}]),
            "over max_length",
        ),
        (
            json!([{"Name": "custom:seats", "Value": "500"}]),
            "over max_value",
        ),
        (
            json!([{"Name": "custom:seats", "Value": "five"}]),
            "not a number",
        ),
        (
            json!([{"Name": "custom:role", "Value": "admin"}]),
            "undeclared",
        ),
    ] {
        let r = sign_up_confirmed(
            &g,
            &client,
            &format!("x-{}", gatehouse::util::random_lower_alnum(6)),
            attrs,
        )
        .await;
        assert_refused(&r, "InvalidParameterException");
        assert!(
            r.1["message"].as_str().unwrap().contains("custom:"),
            "{why}: {}",
            r.1
        );
    }
    let auth = g.login(&user).await;
    let claims = id_claims(&auth);
    assert_eq!(claims["custom:tenant"], "acme");
    assert_eq!(claims["custom:seats"], "5");
    let token = auth["AccessToken"].clone();
    // Immutable after sign-up; the mutable one changes.
    assert_refused(
        &g.idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [{"Name": "custom:tenant", "Value": "evil"}]}),
        )
        .await,
        "NotAuthorizedException",
    );
    let r = g
        .idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": token, "UserAttributes": [{"Name": "custom:seats", "Value": "7"}]}),
        )
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
    // Through the narrow client: the ID token and GetUser show only what it may read; it writes only name.
    let (st, b) = g.password_auth(&narrow, &user, password()).await;
    assert_eq!(st, 200, "{b}");
    let claims = id_claims(&b["AuthenticationResult"]);
    assert!(claims.get("custom:tenant").is_none(), "{claims:?}");
    assert!(claims.get("email").is_some());
    let narrow_token = b["AuthenticationResult"]["AccessToken"].clone();
    let (_, me) = g
        .idp("GetUser", &json!({"AccessToken": narrow_token}))
        .await;
    let names: Vec<&str> = me["UserAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["Name"].as_str())
        .collect();
    assert!(!names.contains(&"custom:seats"), "{names:?}");
    let r = g
        .idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": narrow_token, "UserAttributes": [{"Name": "custom:seats", "Value": "9"}]}),
        )
        .await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(
        r.1["message"],
        "A client attempted to write unauthorized attribute"
    );
    let r = g
        .idp(
            "UpdateUserAttributes",
            &json!({"AccessToken": narrow_token, "UserAttributes": [{"Name": "name", "Value": "Ann"}]}),
        )
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
}

#[test]
fn config_validate_names_each_wrong_idp_policy_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "version = 1\n[idp]\nallow_sign_up = false\ncode_lockout_secs = 0\nmax_codes_per_user_per_hour = 0\n\
         [[idp.custom_attribute]]\nname = \"has space\"\ntype = \"Blob\"\n\
         [[idp.app_client]]\nclient_id = \"c\"\nwrite_attributes = [\"custom:undeclared\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["config", "validate", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    for key in [
        "idp.code_lockout_secs",
        "idp.max_codes_per_user_per_hour",
        "idp.custom_attribute[0].name",
        "idp.custom_attribute[0].type",
        "idp.app_client[0].write_attributes",
    ] {
        assert!(text.contains(key), "{key} in {text}");
    }
}
