//! Bad input never gets a 500: a few thousand generated malformed requests
//! through `oneshot` on several configurations, a few hundred malformed
//! byte streams on a real socket, and then the server must still serve a
//! normal login and refresh. The generator is a fixed-seed PRNG, so a
//! failure reproduces.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use base64::Engine as _;
use common::http::{request, Connection, Received};
use common::*;
use refresh_backend::{Config, UserIdField};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

/// xorshift64*: small, deterministic, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        self.bytes(len)
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token that is wrong in one of many ways (or, sometimes, right).
fn token(rng: &mut Rng, good: &str) -> String {
    let mut claims = refresh_claims();
    let claim_names = [
        "exp",
        "iat",
        "jti",
        "token_type",
        "user_id",
        "nbf",
        "auth_time",
    ];
    let odd_values = [
        json!(null),
        json!(true),
        json!("x"),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!([1]),
        json!({"a": 1}),
        json!(""),
        json!("access"),
        json!("4faf8673-02f5-4a1d-8994-dd76adab934a"),
        json!(START - 5),
        json!(START + 5),
    ];
    match rng.below(12) {
        0 => good.to_owned(),
        1 => {
            let mut t = good.to_owned();
            let cut = rng.below(t.len().max(1));
            t.truncate(cut);
            t
        }
        2 => {
            let mut bytes = good.as_bytes().to_vec();
            let i = rng.below(bytes.len());
            bytes[i] = b"A-_.x"[rng.below(5)];
            String::from_utf8_lossy(&bytes).into_owned()
        }
        3 => format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            good.split('.').nth(1).unwrap_or("")
        ),
        4 => format!(
            "{}.{}.{}",
            b64(rng.pick::<&[u8]>(&[
                br#"{"alg":"RS256"}"#,
                br#"{"alg":"HS512"}"#,
                br#"{}"#,
                b"[]",
                b"\xff"
            ])),
            good.split('.').nth(1).unwrap_or(""),
            good.split('.').nth(2).unwrap_or("")
        ),
        5 => {
            let n = rng.below(4);
            (0..n)
                .map(|_| b64(&rng.some_bytes(40)))
                .collect::<Vec<_>>()
                .join(".")
        }
        6 => String::from_utf8_lossy(&rng.some_bytes(64)).into_owned(),
        7 => format!(
            "{}.{}.{}",
            b64(br#"{"alg":"HS256"}"#),
            b64(b"not json"),
            b64(b"sig")
        ),
        8 => jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"another key"),
        )
        .unwrap(),
        9 => "a".repeat(rng.below(5000)),
        _ => {
            for _ in 0..=rng.below(3) {
                let name = *rng.pick(&claim_names);
                if rng.chance(30) {
                    claims.as_object_mut().unwrap().remove(name);
                } else {
                    claims[name] = rng.pick(&odd_values).clone();
                }
            }
            if rng.chance(20) {
                return forge(json!([1, 2]));
            }
            forge(claims)
        }
    }
}

fn json_body(rng: &mut Rng, token: &str) -> Vec<u8> {
    let field = *rng.pick(&["refresh", "token", "username", "password", "Refresh", ""]);
    let value = match rng.below(8) {
        0 => json!(token),
        1 => json!(null),
        2 => json!([token]),
        3 => json!({"nested": token}),
        4 => json!(12345),
        5 => json!(""),
        6 => json!(true),
        _ => json!(USER),
    };
    match rng.below(14) {
        0 => Vec::new(),
        1 => b"{".to_vec(),
        2 => br#"{"refresh": "\ud800"}"#.to_vec(),
        3 => format!("{}1{}", "[".repeat(300), "]".repeat(300)).into_bytes(),
        4 => br#"{"refresh": 1e999}"#.to_vec(),
        5 => rng.some_bytes(300),
        6 => format!(r#"{{"refresh": "{token}", "refresh": null}}"#).into_bytes(),
        7 => format!("{{\"refresh\": \"{}\"}}", "x".repeat(66 * 1024)).into_bytes(),
        8 => b"null".to_vec(),
        9 => b"\"refresh\"".to_vec(),
        10 => json!({"username": USER, "password": value})
            .to_string()
            .into_bytes(),
        _ => json!({field: value}).to_string().into_bytes(),
    }
}

/// A token request for `/o/token/`, right or wrong in its grant type, its
/// client and its token (a JWT, garbage, bytes, or alice's credentials).
fn oauth_body(rng: &mut Rng, token: &str) -> Vec<u8> {
    let grant = *rng.pick(&[
        "refresh_token",
        "refresh_token",
        "password",
        "",
        "client_credentials",
        "refresh_token%00",
    ]);
    let client = *rng.pick(&["spa", "spa", "", "other", "spa%zz", "%FF"]);
    let tail = match rng.below(6) {
        0 => format!("refresh_token={token}"),
        1 => format!("refresh_token={}", b64(&rng.some_bytes(40))),
        2 => format!("username={USER}&password={PASSWORD}&scope=read+%00"),
        3 => "refresh_token=&refresh_token".to_owned(),
        4 => String::from_utf8_lossy(&rng.some_bytes(100)).into_owned(),
        _ => format!("refresh_token={token}&scope={}", "x ".repeat(500)),
    };
    format!("grant_type={grant}&client_id={client}&{tail}").into_bytes()
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::from_bytes(text.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static("x"))
}

/// One generated request.
fn malformed_request(
    rng: &mut Rng,
    good_access: &str,
    good_refresh: &str,
    good_oauth: &str,
) -> Request<Body> {
    let methods = [
        "GET", "POST", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "BREW",
    ];
    let paths = [
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/api/token/blacklist/",
        "/api/auth/login/",
        "/api/auth/token/refresh/",
        "/api/auth/logout/",
        "/api/data/1/",
        "/api/data/1/?delay_ms=-5",
        "/api/data/1/?delay_ms=%zz&delay_ms",
        "/api/data/99999999999999999999999/",
        "/api/data/%00/",
        "/metrics",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/token/refresh/?refresh=x",
        "/api/_test/faults",
        "/o/token/",
        "/o/token/",
        "/o/token/?grant_type=refresh_token",
    ];
    let content_types = [
        "application/json",
        "application/json; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
        "a/b/c;;;",
        "APPLICATION/JSON",
    ];
    // Mostly POST, so that most requests reach the token logic.
    let method = if rng.chance(75) {
        "POST"
    } else {
        *rng.pick(&methods)
    };
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut builder = Request::builder().method(method).uri(*rng.pick(&paths));
    let good = if rng.chance(50) {
        good_access
    } else {
        good_refresh
    };
    let tok = token(rng, good);
    let body = if rng.chance(20) {
        let field = *rng.pick(&["refresh", "username", "token"]);
        format!("{field}={}&{field}=%zz%", tok).into_bytes()
    } else if rng.chance(25) {
        let presented = if rng.chance(50) { good_oauth } else { &tok };
        oauth_body(rng, presented)
    } else {
        json_body(rng, &tok)
    };
    let content_type = *rng.pick(&content_types);
    if !content_type.is_empty() {
        builder = builder.header("content-type", content_type);
    }
    for _ in 0..rng.below(4) {
        let (name, value) = match rng.below(7) {
            0 => (
                "authorization",
                format!(
                    "{} {}",
                    rng.pick(&["Bearer", "JWT", "bearer", "Basic", ""]),
                    token(rng, good_access)
                ),
            ),
            1 if rng.chance(50) => (
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(rng.pick(&[
                        &b"spa:"[..],
                        b"spa:secret",
                        b"spa",
                        b"\xff:",
                        b":"
                    ]))
                ),
            ),
            1 => ("authorization", format!("Bearer {} {}", tok, tok)),
            2 => (
                "cookie",
                format!(
                    "refresh={}; access={}",
                    token(rng, good_refresh),
                    token(rng, good_access)
                ),
            ),
            3 => (
                "cookie",
                String::from_utf8_lossy(&rng.some_bytes(200)).into_owned(),
            ),
            4 => ("cookie", format!("refresh=\"{}\"; refresh=; =; ;;", tok)),
            5 => (
                "content-length",
                rng.pick(&["-1", "abc", "99999999999999999999"]).to_string(),
            ),
            _ => ("origin", "http://127.0.0.1:9".to_owned()),
        };
        let value = header_value(value);
        builder = builder.header(HeaderName::from_static(name), value);
    }
    builder.body(Body::from(body)).unwrap()
}

/// A configuration under test, by name.
type NamedConfig = (&'static str, Box<dyn Fn(&mut Config)>);

fn configs() -> Vec<NamedConfig> {
    vec![
        (
            "simplejwt defaults, DOT",
            Box::new(|c: &mut Config| c.oauth.clients = vec!["spa".into()]),
        ),
        ("rotation + blacklist", Box::new(rotating)),
        (
            "atomic + grace + reuse + cap + hooks, DOT",
            Box::new(|c: &mut Config| {
                rotating(c);
                c.oauth.clients = vec!["spa".into()];
                c.rotation_grace = Some(Duration::from_secs(5));
                c.reuse_detection = true;
                c.session_max_lifetime = Some(Duration::from_secs(3600));
                c.test_hooks = true;
            }),
        ),
        (
            "uuid, no store, JWT+Bearer",
            Box::new(|c: &mut Config| {
                rotating(c);
                c.blacklist_store = false;
                c.user_id_field = UserIdField::Uuid;
                c.auth_header_types = vec!["JWT".into(), "Bearer".into()];
            }),
        ),
    ]
}

#[tokio::test]
async fn thousands_of_malformed_requests_never_get_a_5xx() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total = 0;
    for (name, adjust) in configs() {
        let app = test_app(|c| adjust(c));
        let (access, refresh) = app.login().await;
        let oauth = app
            .call(
                Method::POST,
                "/o/token/",
                &[("content-type", "application/x-www-form-urlencoded")],
                format!("grant_type=password&username={USER}&password={PASSWORD}&client_id=spa"),
            )
            .await
            .json();
        let oauth = oauth["refresh_token"].as_str().unwrap_or("none").to_owned();
        for i in 0..800 {
            let request = malformed_request(&mut rng, &access, &refresh, &oauth);
            let described = format!("{} {}", request.method(), request.uri());
            let reply = app.send(request).await;
            assert!(
                reply.status.as_u16() < 500,
                "{name} #{i}: {described} got {} {:?}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
            total += 1;
        }
        // Still alive and still right.
        let (_, refresh) = app.login().await;
        assert_eq!(app.refresh(&refresh).await.status.as_u16(), 200, "{name}");
    }
    assert_eq!(total, 3200);
}

/// Byte streams that are not quite HTTP, each on its own connection. The
/// ones that end mid-request are followed by a write shutdown so the server
/// sees the end instead of waiting for more.
fn raw_cases(rng: &mut Rng, refresh: &str) -> Vec<(Vec<u8>, bool)> {
    let mut cases: Vec<(Vec<u8>, bool)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), true),
        (b"GET / HTTP/9.9\r\n\r\n".to_vec(), true),
        (b"GET /api/data/1/ HTTP/1.0\r\n\r\n".to_vec(), true),
        (b"POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec(), true),
        (b"POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(), true),
        (b"POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(), true),
        (b"POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec(), false),
        (b"POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n".to_vec(), true),
        (b"POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort".to_vec(), false),
        (b"GET /api/data/1/ HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n".to_vec(), true),
        (b"GET http://evil.example/api/data/1/ HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), true),
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), true),
        (b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), true),
        (b"GET /api/data/1/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n\r\n".to_vec(), true),
        (b"\r\n\r\n\r\n".to_vec(), false),
        (format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)).into_bytes(), true),
        (format!("GET / HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n", "c=v; ".repeat(20_000)).into_bytes(), true),
        (format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-A: b\r\n".repeat(200)).into_bytes(), true),
        (
            format!(
                "POST /api/token/refresh/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"refresh\": \"{refresh}\"}}GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                refresh.len() + 15
            )
            .into_bytes(),
            true,
        ),
        (
            request(
                "POST",
                "/api/token/refresh/",
                &[("Content-Type", "application/json")],
                &vec![b'['; 200 * 1024],
            ),
            true,
        ),
    ];
    for _ in 0..380 {
        let len = 1 + rng.below(2000);
        let mut bytes = rng.bytes(len);
        if rng.chance(50) {
            let mut prefix = b"POST /api/auth/token/refresh/ HTTP/1.1\r\nHost: x\r\n".to_vec();
            prefix.append(&mut bytes);
            bytes = prefix;
        }
        cases.push((bytes, false));
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_byte_streams_never_get_a_5xx_and_the_server_lives_on() {
    let (config, ..) = config_with(rotating);
    let addr = spawn_server(config).await;
    let mut conn = Connection::open(addr).await.unwrap();
    let login = conn
        .exchange(&request(
            "POST",
            "/api/token/",
            &[("Content-Type", "application/json")],
            json!({"username": USER, "password": PASSWORD})
                .to_string()
                .as_bytes(),
        ))
        .await
        .unwrap();
    let refresh = login.json()["refresh"].as_str().unwrap().to_owned();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let cases = raw_cases(&mut rng, &refresh);
    let mut answered = 0;
    for (i, (bytes, complete)) in cases.iter().enumerate() {
        let mut conn = Connection::open(addr).await.unwrap();
        // The server may close on us mid-send; that is a fine answer too.
        let _ = conn.send(bytes).await;
        if !complete {
            let _ = conn.stream.shutdown().await;
        }
        match conn.receive().await {
            Ok(Received::Response(r)) | Ok(Received::Truncated(r)) => {
                assert!(r.status < 500, "case {i}: {}", r.status);
                answered += 1;
            }
            Ok(Received::ClosedEmpty) | Err(_) => {}
        }
    }
    assert!(
        answered > 20,
        "most well-framed cases get an answer ({answered})"
    );
    // Alive: a normal login and refresh on a new connection.
    let mut conn = Connection::open(addr).await.unwrap();
    let login = conn
        .exchange(&request(
            "POST",
            "/api/token/",
            &[("Content-Type", "application/json")],
            json!({"username": USER, "password": PASSWORD})
                .to_string()
                .as_bytes(),
        ))
        .await
        .unwrap();
    assert_eq!(login.status, 200);
    let refresh = login.json()["refresh"].as_str().unwrap().to_owned();
    let reply = conn
        .exchange(&request(
            "POST",
            "/api/token/refresh/",
            &[("Content-Type", "application/json")],
            json!({"refresh": refresh}).to_string().as_bytes(),
        ))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let _: Value = reply.json();
}
