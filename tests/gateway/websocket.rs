//! The WebSocket data plane with a real client (tokio-tungstenite) and reference agents over loopback.
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use gatehouse::clock::Clock as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::common::{Gatehouse, RefAgent};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn start_agent() -> RefAgent {
    RefAgent::start()
}

struct Fixture {
    gw: Gatehouse,
    fragile: std::sync::Mutex<RefAgent>,
    _agent: RefAgent,
    _tmp: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let agent = start_agent();
        let fragile = start_agent();
        let tmp = tempfile::tempdir().unwrap();
        let cfg = format!(
            r#"
version = 1
[[runtime]]
name = "ws"
upstream = "{a}"
allowed_origins = ["http://app.example.test"]
[runtime.limits]
ws_max_message_bytes = 4096
ws_frames_per_second = 20
ws_max_sockets_per_user = 2

[[runtime]]
name = "ws_short"
upstream = "{a}"
[runtime.limits]
ws_max_lifetime = "1s"

[[runtime]]
name = "ws_fragile"
upstream = "{f}"
"#,
            a = agent.url,
            f = fragile.url
        );
        let path = tmp.path().join("ws.toml");
        std::fs::write(&path, cfg).unwrap();
        let gw = Gatehouse::start_in(
            &tmp.path().join("data"),
            &["--config", path.to_str().unwrap()],
        );
        Fixture {
            gw,
            fragile: std::sync::Mutex::new(fragile),
            _agent: agent,
            _tmp: tmp,
        }
    })
}

fn ws_url(g: &Gatehouse, runtime: &str, query: &str) -> String {
    let rt = g
        .endpoints
        .runtimes
        .iter()
        .find(|r| r.name == runtime)
        .unwrap();
    format!("{}{query}", rt.ws_url)
}

fn b64(token: &str) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token)
}

enum Auth<'a> {
    Subprotocol(&'a str),
    Header(&'a str),
    None,
}

async fn connect(
    url: &str,
    auth: Auth<'_>,
    extra: &[(&str, &str)],
) -> Result<(Client, http::HeaderMap), WsError> {
    let mut req = url.into_client_request().unwrap();
    match auth {
        Auth::Subprotocol(t) => {
            req.headers_mut().insert(
                "sec-websocket-protocol",
                format!(
                    "base64UrlBearerAuthorization.{}, base64UrlBearerAuthorization",
                    b64(t)
                )
                .parse()
                .unwrap(),
            );
        }
        Auth::Header(t) => {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Auth::None => {}
    }
    for (k, v) in extra {
        req.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (ws, resp) = tokio_tungstenite::connect_async(req).await?;
    Ok((ws, resp.headers().clone()))
}

fn refused_status(r: Result<(Client, http::HeaderMap), WsError>) -> u16 {
    match r {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected a refusal before the upgrade, got 101"),
    }
}

async fn ask(ws: &mut Client, prompt: &str) -> Value {
    ws.send(Message::Text(json!({"prompt": prompt}).to_string().into()))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no reply")
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text reply, got {other:?}"),
        }
    }
}

async fn close_frame(ws: &mut Client, within: Duration) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no close frame in time")
        {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn user_token(g: &Gatehouse) -> (String, String) {
    let user = g.new_user("ws");
    let token = g.access_token(&user).await;
    let sub = gatehouse::token::jws::parse(&token).unwrap().payload["sub"]
        .as_str()
        .unwrap()
        .to_string();
    (token, sub)
}

/// A token of `g`'s pool for a new user that expires `secs` from now.
async fn short_token(g: &Gatehouse, secs: i64) -> (String, String) {
    let (token, _) = user_token(g).await;
    let mut payload = gatehouse::token::jws::parse(&token).unwrap().payload;
    payload.insert(
        "exp".into(),
        json!(gatehouse::clock::SystemClock.now_unix() + secs),
    );
    let fresh_user = payload["username"].as_str().unwrap().to_string();
    (
        g.signer().await.sign(&Value::Object(payload)).unwrap(),
        fresh_user,
    )
}

#[tokio::test]
async fn subprotocol_auth_echoes_only_the_sentinel_and_the_agent_sees_no_token() {
    let f = fixture();
    let (token, sub) = user_token(&f.gw).await;
    let (mut ws, headers) = connect(&ws_url(&f.gw, "ws", ""), Auth::Subprotocol(&token), &[])
        .await
        .unwrap();
    assert_eq!(
        headers["sec-websocket-protocol"],
        "base64UrlBearerAuthorization"
    );
    let session = headers["x-amzn-bedrock-agentcore-runtime-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let reply = ask(&mut ws, "hi").await;
    assert_eq!(reply["user_id"], sub.as_str());
    assert_eq!(reply["session_id"], session.as_str());
    let seen = reply["headers"].as_object().unwrap();
    for gone in ["authorization", "sec-websocket-protocol"] {
        assert!(!seen.contains_key(gone), "{gone} reached the agent");
    }
    assert!(!reply["headers"].to_string().contains(&b64(&token)[..20]));
}

#[tokio::test]
async fn header_auth_works_for_servers_and_sdks() {
    let f = fixture();
    let (token, sub) = user_token(&f.gw).await;
    let (mut ws, headers) = connect(&ws_url(&f.gw, "ws", ""), Auth::Header(&token), &[])
        .await
        .unwrap();
    assert!(headers.get("sec-websocket-protocol").is_none());
    let reply = ask(&mut ws, "hello").await;
    assert_eq!(reply["user_id"], sub.as_str());
    assert!(reply["headers"].get("authorization").is_none());
}

#[tokio::test]
async fn every_refusal_happens_before_the_upgrade() {
    let f = fixture();
    let url = ws_url(&f.gw, "ws", "");
    let (token, _) = user_token(&f.gw).await;
    assert_eq!(
        refused_status(connect(&url, Auth::None, &[]).await),
        401,
        "no token"
    );
    assert_eq!(
        refused_status(connect(&url, Auth::Subprotocol("a.b.c"), &[]).await),
        401,
        "bad token"
    );
    let mut payload = gatehouse::token::jws::parse(&token).unwrap().payload;
    payload.insert("client_id".into(), json!("anotherclient0000000000000"));
    let other_client = f.gw.signer().await.sign(&Value::Object(payload)).unwrap();
    assert_eq!(
        refused_status(connect(&url, Auth::Subprotocol(&other_client), &[]).await),
        401,
        "wrong client"
    );
    let (other, _) = user_token(&f.gw).await;
    assert_eq!(
        refused_status(
            connect(
                &url,
                Auth::Subprotocol(&token),
                &[("authorization", &format!("Bearer {other}"))]
            )
            .await
        ),
        401,
        "two different credentials"
    );
    assert_eq!(
        refused_status(
            connect(
                &url,
                Auth::None,
                &[(
                    "sec-websocket-protocol",
                    &format!("base64UrlBearerAuthorization.{}", b64(&token))
                )]
            )
            .await
        ),
        401,
        "token entry without the sentinel"
    );
    assert_eq!(
        refused_status(
            connect(
                &url,
                Auth::Subprotocol(&token),
                &[("origin", "http://evil.example.test")]
            )
            .await
        ),
        403,
        "cross-site WebSocket hijacking"
    );
    assert!(connect(
        &url,
        Auth::Subprotocol(&token),
        &[("origin", "http://app.example.test")]
    )
    .await
    .is_ok());
    // Session hijack: bob presents alice's session.
    let session = format!("ws-owned-{}", gatehouse::util::random_alnum(30));
    let q = format!("&X-Amzn-Bedrock-AgentCore-Runtime-Session-Id={session}");
    let (mut ws, _) = connect(&ws_url(&f.gw, "ws", &q), Auth::Subprotocol(&token), &[])
        .await
        .unwrap();
    ask(&mut ws, "mine").await;
    assert_eq!(
        refused_status(connect(&ws_url(&f.gw, "ws", &q), Auth::Subprotocol(&other), &[]).await),
        403,
        "hijack"
    );
    assert_eq!(
        refused_status(connect(&format!("{url}&access_token={token}"), Auth::None, &[]).await),
        401,
        "query token"
    );
}

#[tokio::test]
async fn query_parameters_reach_the_agent_as_headers_and_spoofed_identity_does_not() {
    let f = fixture();
    let (token, sub) = user_token(&f.gw).await;
    let session = format!("ws-query-{}", gatehouse::util::random_alnum(30));
    let q = format!("&X-Amzn-Bedrock-AgentCore-Runtime-Session-Id={session}&X-Amzn-Bedrock-AgentCore-Runtime-Custom-Team=blue");
    let (mut ws, _) = connect(
        &ws_url(&f.gw, "ws", &q),
        Auth::Subprotocol(&token),
        &[
            ("x-amzn-bedrock-agentcore-runtime-user-id", "mallory"),
            ("X-Amzn-Bedrock-AgentCore-Runtime-User-Id", "mallory2"),
        ],
    )
    .await
    .unwrap();
    let reply = ask(&mut ws, "who").await;
    assert_eq!(reply["session_id"], session.as_str());
    assert_eq!(reply["user_id"], sub.as_str());
    assert_eq!(
        reply["headers"]["x-amzn-bedrock-agentcore-runtime-custom-team"],
        "blue"
    );
    assert!(!reply.to_string().contains("mallory"));
}

#[tokio::test]
async fn binary_and_fragmented_messages_round_trip_and_close_codes_pass_both_ways() {
    let f = fixture();
    let (token, _) = user_token(&f.gw).await;
    let (mut ws, _) = connect(&ws_url(&f.gw, "ws", ""), Auth::Header(&token), &[])
        .await
        .unwrap();
    ws.send(Message::Binary(vec![0u8, 159, 146, 150, 255].into()))
        .await
        .unwrap();
    match ws.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(b.as_ref(), &[0u8, 159, 146, 150, 255]),
        other => panic!("{other:?}"),
    }
    // One binary message in three frames.
    ws.send(Message::Frame(Frame::message(
        vec![1u8; 1000],
        OpCode::Data(Data::Binary),
        false,
    )))
    .await
    .unwrap();
    ws.send(Message::Frame(Frame::message(
        vec![2u8; 1000],
        OpCode::Data(Data::Continue),
        false,
    )))
    .await
    .unwrap();
    ws.send(Message::Frame(Frame::message(
        vec![3u8; 1000],
        OpCode::Data(Data::Continue),
        true,
    )))
    .await
    .unwrap();
    match ws.next().await {
        Some(Ok(Message::Binary(b))) => {
            assert_eq!(b.len(), 3000);
            assert_eq!((b[0], b[1500], b[2999]), (1, 2, 3));
        }
        other => panic!("{other:?}"),
    }
    ws.send(Message::Ping(vec![7u8].into())).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Pong(p))) => assert_eq!(p.as_ref(), &[7u8]),
        other => panic!("{other:?}"),
    }
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(4000),
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let (code, reason) = close_frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(
        (code, reason.as_str()),
        (4000, "bye"),
        "the close handshake completes with our code"
    );
}

#[tokio::test]
async fn an_agent_initiated_close_reaches_the_client_with_its_code_and_reason() {
    let f = fixture();
    let (token, _) = user_token(&f.gw).await;
    let (mut ws, _) = connect(&ws_url(&f.gw, "ws", ""), Auth::Header(&token), &[])
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"close": {"code": 4321, "reason": "agent says bye"}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let (code, reason) = close_frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!((code, reason.as_str()), (4321, "agent says bye"));
}

#[tokio::test]
async fn the_agent_going_away_closes_the_client_with_1011() {
    let f = fixture();
    let (token, _) = user_token(&f.gw).await;
    let (mut ws, _) = connect(&ws_url(&f.gw, "ws_fragile", ""), Auth::Header(&token), &[])
        .await
        .unwrap();
    ask(&mut ws, "still there?").await;
    {
        let mut agent = f.fragile.lock().unwrap();
        let _ = agent.child.kill();
        let _ = agent.child.wait();
    }
    let (code, _) = close_frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, 1011);
}

#[tokio::test]
async fn the_socket_closes_with_4401_when_the_token_expires() {
    let f = fixture();
    let (token, _) = short_token(&f.gw, 4).await;
    let (mut ws, _) = connect(&ws_url(&f.gw, "ws", ""), Auth::Subprotocol(&token), &[])
        .await
        .unwrap();
    ask(&mut ws, "before").await;
    let (code, reason) = close_frame(&mut ws, Duration::from_secs(15)).await;
    assert_eq!(code, 4401);
    assert!(reason.contains("expired"), "{reason}");
}

#[tokio::test]
async fn in_band_reauth_extends_the_connection_past_the_first_tokens_expiry() {
    let f = fixture();
    let (short, username) = short_token(&f.gw, 4).await;
    let fresh = f.gw.access_token(&username).await;
    let (mut ws, _) = connect(&ws_url(&f.gw, "ws", ""), Auth::Subprotocol(&short), &[])
        .await
        .unwrap();
    let ok = ask_raw(
        &mut ws,
        json!({"type": "gatehouse.reauth", "token": fresh}).to_string(),
    )
    .await;
    assert_eq!(ok["type"], "gatehouse.reauth.ok", "{ok}");
    // A stranger's token is refused in band and changes nothing.
    let (other, _) = user_token(&f.gw).await;
    let refused = ask_raw(
        &mut ws,
        json!({"type": "gatehouse.reauth", "token": other}).to_string(),
    )
    .await;
    assert_eq!(refused["type"], "gatehouse.reauth.error");
    // Wait past the first token's expiry; the socket still works and the agent never saw the reauth messages.
    let past = tokio::time::Instant::now() + Duration::from_secs(6);
    tokio::time::sleep_until(past).await;
    let reply = ask(&mut ws, "after").await;
    assert_eq!(reply["type"], "reply");
    assert_eq!(
        reply["turn"], 1,
        "reauth messages must not be forwarded to the agent"
    );
}

async fn ask_raw(ws: &mut Client, text: String) -> Value {
    ws.send(Message::Text(text.into())).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("no reply")
    {
        Some(Ok(Message::Text(t))) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn limits_close_or_refuse_as_configured() {
    let f = fixture();
    let (token, _) = user_token(&f.gw).await;
    let url = ws_url(&f.gw, "ws", "");
    // Message too big.
    let (mut ws, _) = connect(&url, Auth::Header(&token), &[]).await.unwrap();
    let _ = ws.send(Message::Binary(vec![0u8; 10_000].into())).await;
    let (code, _) = close_frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, 1009);
    // Too many messages per second.
    let (mut ws, _) = connect(&url, Auth::Header(&token), &[]).await.unwrap();
    for _ in 0..40 {
        if ws.send(Message::Binary(vec![1u8].into())).await.is_err() {
            break;
        }
    }
    let (code, reason) = close_frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, 1008, "{reason}");
    // Concurrent sockets per user: two are fine, the third is refused before the upgrade.
    let (user, _) = user_token(&f.gw).await;
    let (_a, _) = connect(&url, Auth::Header(&user), &[]).await.unwrap();
    let (_b, _) = connect(&url, Auth::Header(&user), &[]).await.unwrap();
    assert_eq!(
        refused_status(connect(&url, Auth::Header(&user), &[]).await),
        429
    );
    // Connection lifetime.
    let (mut ws, _) = connect(&ws_url(&f.gw, "ws_short", ""), Auth::Header(&token), &[])
        .await
        .unwrap();
    let (code, reason) = close_frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("duration"), "{reason}");
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let mut g = Gatehouse::start();
    let user = g.new_user("bye");
    let token = g.access_token(&user).await;
    let (mut ws, _) = connect(
        &g.endpoints.runtimes[0].ws_url,
        Auth::Subprotocol(&token),
        &[],
    )
    .await
    .unwrap();
    let reply = ask(&mut ws, "hello").await;
    assert_eq!(reply["type"], "reply");
    let pid = nix::unistd::Pid::from_raw(g.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let (code, _) = close_frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, 1001);
    assert!(g.stop().success());
}
