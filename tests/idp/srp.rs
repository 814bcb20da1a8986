//! USER_SRP_AUTH against an independent client written from the SRP-6a description of
//! Cognito's protocol (RFC 5054 and Cognito's derivation, not from the server code): correct and wrong passwords, replayed and foreign
//! SECRET_BLOCKs, stale TIMESTAMPs, A = 0 and A = N, unknown users.
use aws_lc_rs::{digest, hmac};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use num_bigint::BigUint;
use serde_json::{json, Value};

use crate::common::{assert_refused, password, password2, shared, Gatehouse};

const N: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

fn n() -> BigUint {
    BigUint::parse_bytes(N.as_bytes(), 16).unwrap()
}

/// Hex of an integer, made an even number of digits and positive as a signed big-endian number.
fn padded(x: &BigUint) -> String {
    let mut h = format!("{x:x}");
    if h.len() % 2 == 1 {
        h.insert(0, '0');
    } else if "89abcdef".contains(&h[..1]) {
        h.insert_str(0, "00");
    }
    h
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn sha(b: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, b).as_ref().to_vec()
}

fn h_int(hex: &str) -> BigUint {
    BigUint::from_bytes_be(&sha(&unhex(hex)))
}

/// Cognito's TIMESTAMP for Unix seconds, computed here with a day-counting loop (independent of the server).
pub(crate) fn timestamp(unix: i64) -> String {
    let days_total = unix / 86_400;
    let secs = unix % 86_400;
    let mut year = 1970;
    let mut days = days_total;
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    loop {
        let len = if leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let lens = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while days >= lens[month] {
        days -= lens[month];
        month += 1;
    }
    let names = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days_total % 7) as usize];
    format!(
        "{wd} {} {} {:02}:{:02}:{:02} UTC {year}",
        names[month],
        days + 1,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) struct Client {
    a: BigUint,
    pub(crate) big_a: BigUint,
}

impl Client {
    pub(crate) fn new() -> Self {
        let a = BigUint::from_bytes_be(&gatehouse::util::random_bytes(32));
        let big_a = BigUint::from(2u32).modpow(&a, &n());
        Self { a, big_a }
    }

    /// PASSWORD_CLAIM_SIGNATURE for a challenge.
    pub(crate) fn signature(&self, pool_id: &str, params: &Value, pw: &str, ts: &str) -> String {
        let n = n();
        let g = BigUint::from(2u32);
        let k = h_int(&format!("{}{}", padded(&n), padded(&g)));
        let pool_name = pool_id.split('_').nth(1).unwrap();
        let user_id = params["USER_ID_FOR_SRP"].as_str().unwrap();
        let salt = BigUint::parse_bytes(params["SALT"].as_str().unwrap().as_bytes(), 16).unwrap();
        let big_b = BigUint::parse_bytes(params["SRP_B"].as_str().unwrap().as_bytes(), 16).unwrap();
        let u = h_int(&format!("{}{}", padded(&self.big_a), padded(&big_b)));
        let inner: String = sha(format!("{pool_name}{user_id}:{pw}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let x = h_int(&format!("{}{inner}", padded(&salt)));
        let gx = g.modpow(&x, &n);
        let base = (&big_b + &n * &k - (&k * &gx) % &n) % &n;
        let s = base.modpow(&(&self.a + &u * &x), &n);
        let prk = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &unhex(&padded(&u))),
            &unhex(&padded(&s)),
        );
        let okm = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()),
            b"Caldera Derived Key\x01",
        );
        let key = &okm.as_ref()[..16];
        let mut msg = pool_name.as_bytes().to_vec();
        msg.extend_from_slice(user_id.as_bytes());
        msg.extend_from_slice(
            &B64.decode(params["SECRET_BLOCK"].as_str().unwrap())
                .unwrap(),
        );
        msg.extend_from_slice(ts.as_bytes());
        B64.encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &msg).as_ref())
    }
}

async fn initiate(g: &Gatehouse, user: &str, a_hex: &str) -> (u16, Value) {
    g.idp(
        "InitiateAuth",
        &json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": g.endpoints.client_id,
                "AuthParameters": {"USERNAME": user, "SRP_A": a_hex}}),
    )
    .await
}

async fn respond(g: &Gatehouse, params: &Value, ts: &str, sig: &str) -> (u16, Value) {
    g.idp(
        "RespondToAuthChallenge",
        &json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": g.endpoints.client_id,
                "ChallengeResponses": {
                    "USERNAME": params["USER_ID_FOR_SRP"], "TIMESTAMP": ts,
                    "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
                    "PASSWORD_CLAIM_SIGNATURE": sig}}),
    )
    .await
}

/// Runs the whole exchange with `pw`; returns the answer to RespondToAuthChallenge.
async fn srp_login(g: &Gatehouse, user: &str, pw: &str) -> (u16, Value) {
    let c = Client::new();
    let (s, body) = initiate(g, user, &format!("{:x}", c.big_a)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["ChallengeName"], "PASSWORD_VERIFIER");
    let params = &body["ChallengeParameters"];
    let ts = timestamp(now());
    let sig = c.signature(&g.endpoints.user_pool_id, params, pw, &ts);
    respond(g, params, &ts, &sig).await
}

#[test]
fn the_independent_timestamp_matches_cognitos_examples() {
    assert_eq!(timestamp(1_795_880_880), "Sat Nov 28 15:48:00 UTC 2026");
    assert_eq!(timestamp(1_796_115_907), "Tue Dec 1 09:05:07 UTC 2026");
}

#[tokio::test]
async fn srp_sign_in_with_the_right_password_returns_tokens() {
    let g = shared();
    let user = g.new_user("srp");
    let (s, body) = srp_login(g, &user, password()).await;
    assert_eq!(s, 200, "{body}");
    let r = &body["AuthenticationResult"];
    assert_eq!(r["TokenType"], "Bearer");
    assert!(r["RefreshToken"].as_str().is_some());
    let access = gatehouse::token::jws::parse(r["AccessToken"].as_str().unwrap())
        .unwrap()
        .payload;
    assert_eq!(access["username"], user.as_str());
}

#[tokio::test]
async fn srp_sign_in_with_a_wrong_password_is_refused() {
    let g = shared();
    let user = g.new_user("srpwrong");
    let (s, body) = srp_login(g, &user, password2()).await;
    assert_eq!(s, 400);
    assert_eq!(body["__type"], "NotAuthorizedException");
    assert_eq!(body["message"], "Incorrect username or password.");
}

#[tokio::test]
async fn srp_for_an_unknown_user_gets_a_challenge_of_the_same_shape_then_the_same_error() {
    let g = shared();
    let user = g.new_user("srpknown");
    let c = Client::new();
    let a = format!("{:x}", c.big_a);
    let (_, known) = initiate(g, &user, &a).await;
    let (s, unknown) = initiate(g, "nobody-srp-unknown", &a).await;
    assert_eq!(s, 200);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v["ChallengeParameters"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known), keys(&unknown));
    assert_eq!(
        known["ChallengeParameters"]["SALT"].as_str().unwrap().len(),
        unknown["ChallengeParameters"]["SALT"]
            .as_str()
            .unwrap()
            .len()
    );
    let (_, again) = initiate(g, "nobody-srp-unknown", &a).await;
    assert_eq!(
        again["ChallengeParameters"]["SALT"], unknown["ChallengeParameters"]["SALT"],
        "a fake salt is stable per name"
    );
    let (s, body) = srp_login(g, "nobody-srp-unknown", password()).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (400, Some("Incorrect username or password."))
    );
}

#[tokio::test]
async fn a_replayed_secret_block_is_refused() {
    let g = shared();
    let user = g.new_user("srpreplay");
    let c = Client::new();
    let (_, body) = initiate(g, &user, &format!("{:x}", c.big_a)).await;
    let params = &body["ChallengeParameters"];
    let ts = timestamp(now());
    let sig = c.signature(&g.endpoints.user_pool_id, params, password(), &ts);
    assert_eq!(respond(g, params, &ts, &sig).await.0, 200);
    assert_refused(
        &respond(g, params, &ts, &sig).await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn a_stale_timestamp_is_refused() {
    let g = shared();
    let user = g.new_user("srpstale");
    let c = Client::new();
    let (_, body) = initiate(g, &user, &format!("{:x}", c.big_a)).await;
    let params = &body["ChallengeParameters"];
    let ts = timestamp(now() - 3600);
    let sig = c.signature(&g.endpoints.user_pool_id, params, password(), &ts);
    assert_refused(
        &respond(g, params, &ts, &sig).await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn a_zero_a_or_a_equal_to_n_is_refused() {
    let g = shared();
    let user = g.new_user("srpazero");
    for a in ["0", "00", N, &format!("{:x}", n() * 2u32)] {
        assert_refused(&initiate(g, &user, a).await, "InvalidParameterException");
    }
}

#[tokio::test]
async fn a_secret_block_of_another_user_is_refused() {
    let g = shared();
    let alice = g.new_user("srpa");
    let bob = g.new_user("srpb");
    let c = Client::new();
    let (_, body) = initiate(g, &alice, &format!("{:x}", c.big_a)).await;
    let mut params = body["ChallengeParameters"].clone();
    // Bob answers with Alice's SECRET_BLOCK (signed as if it were his).
    params["USER_ID_FOR_SRP"] = json!(bob);
    let ts = timestamp(now());
    let sig = c.signature(&g.endpoints.user_pool_id, &params, password(), &ts);
    assert_refused(
        &respond(g, &params, &ts, &sig).await,
        "NotAuthorizedException",
    );
}

#[tokio::test]
async fn srp_with_a_temporary_password_gets_new_password_required() {
    let g = shared();
    let user = format!("srptemp-{}", gatehouse::util::random_lower_alnum(8));
    let (ok, out) = g.cli(
        &[
            "user",
            "create",
            "--username",
            &user,
            "--temporary",
            "--password-stdin",
        ],
        password(),
    );
    assert!(ok, "{out}");
    let (s, body) = srp_login(g, &user, password()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["ChallengeName"], "NEW_PASSWORD_REQUIRED");
    let (s, body) = g
        .idp(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ClientId": g.endpoints.client_id,
                    "Session": body["Session"],
                    "ChallengeResponses": {"USERNAME": user, "NEW_PASSWORD": password2()}}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // The new password's verifier is in place at once.
    let (s, body) = srp_login(g, &user, password2()).await;
    assert_eq!(s, 200, "{body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());
}

#[tokio::test]
async fn srp_failures_count_toward_the_lockout() {
    let g = shared();
    let user = g.new_user("srplock");
    for _ in 0..5 {
        assert_refused(
            &srp_login(g, &user, password2()).await,
            "NotAuthorizedException",
        );
    }
    let c = Client::new();
    let r = initiate(g, &user, &format!("{:x}", c.big_a)).await;
    assert_refused(&r, "NotAuthorizedException");
    assert_eq!(r.1["message"], "Password attempts exceeded");
}

#[tokio::test]
async fn a_user_without_a_verifier_gets_one_at_the_first_password_sign_in() {
    use gatehouse::store::Store as _;
    let g = shared();
    let user = format!("legacy-{}", gatehouse::util::random_lower_alnum(8));
    // A user as the first schema stored it: an argon2 hash and no SRP verifier.
    let store = gatehouse::store::SqliteStore::open_in(&g.dir)
        .await
        .unwrap();
    store
        .create_user(gatehouse::store::UserRow {
            pool_id: g.endpoints.user_pool_id.clone().into(),
            sub: gatehouse::util::uuid_v4().into(),
            username: user.clone(),
            email: None,
            password_hash: gatehouse::idp::password::hash_blocking(password()).unwrap(),
            status: gatehouse::store::UserStatus::Confirmed,
            enabled: true,
            created_at: 1,
            srp_salt: None,
            srp_verifier: None,
            attributes: "{}".into(),
            email_verified: false,
            pending_email: None,
        })
        .await
        .unwrap();
    assert_refused(
        &srp_login(g, &user, password()).await,
        "NotAuthorizedException",
    );
    assert_eq!(
        g.password_auth(&g.endpoints.client_id, &user, password())
            .await
            .0,
        200
    );
    let (s, body) = srp_login(g, &user, password()).await;
    assert_eq!(s, 200, "{body}");
}
