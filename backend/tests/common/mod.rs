//! Shared test fixtures: an app on an in-memory store with a known key and
//! a hand-moved clock, `oneshot` helpers, token forging, a socket server.

#![allow(dead_code)]

pub mod http;
pub mod postgres;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use refresh_backend::{
    app, hash_password, serve, Config, ConnectionLimits, ManualClock, SigningKeys, SqliteStore,
    Timestamp, TokenStore,
};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The HMAC secret of every test app.
pub const SECRET: &[u8] = b"test-only-secret-not-for-production";
/// The manual clock starts here (2023-11-14T22:13:20Z).
pub const START: i64 = 1_700_000_000;
/// The user every test app has.
pub const USER: &str = "alice";
/// Her password.
pub const PASSWORD: &str = "wonderland";

/// An app and the handles a test needs to look behind it.
pub struct TestApp {
    pub router: Router,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<ManualClock>,
    pub user_pk: i64,
    pub user_uuid: String,
}

/// A reply from `oneshot`.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value a `Set-Cookie` of this reply gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .iter()
            .find_map(|line| http::cookie_value(line, name).map(str::to_owned))
    }
}

/// A config with SimpleJWT's defaults, the known key, a manual clock at
/// [`START`] and user alice.
pub fn config_with(
    adjust: impl FnOnce(&mut Config),
) -> (Config, Arc<SqliteStore>, Arc<ManualClock>, i64, String) {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let user = store
        .upsert_user(USER, &hash_password(PASSWORD, 2).unwrap())
        .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(START)));
    let keys = SigningKeys::hmac(Algorithm::HS256, SECRET).unwrap();
    let mut config = Config::new(store.clone(), keys);
    config.clock = clock.clone();
    adjust(&mut config);
    config.validate().unwrap();
    (config, store, clock, user.pk, user.uuid)
}

/// A test app, its config adjusted first.
pub fn test_app(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let (config, store, clock, user_pk, user_uuid) = config_with(adjust);
    TestApp {
        router: app(config),
        store,
        clock,
        user_pk,
        user_uuid,
    }
}

/// Rotation with blacklisting, the configuration of the seeds' story.
pub fn rotating(config: &mut Config) {
    config.rotate_refresh_tokens = true;
    config.blacklist_after_rotation = true;
}

impl TestApp {
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// A request with the given headers and raw body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(body.into()).unwrap()).await
    }

    /// A JSON POST.
    pub async fn post_json(&self, path: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            serde_json::to_vec(&body).unwrap(),
        )
        .await
    }

    /// A JSON POST with extra headers.
    pub async fn post_json_with(&self, path: &str, headers: &[(&str, &str)], body: Value) -> Reply {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.call(Method::POST, path, &all, serde_json::to_vec(&body).unwrap())
            .await
    }

    /// Logs alice in through `/api/token/`: (access, refresh).
    pub async fn login(&self) -> (String, String) {
        let reply = self
            .post_json(
                "/api/token/",
                json!({"username": USER, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
        let body = reply.json();
        (
            body["access"].as_str().unwrap().to_owned(),
            body["refresh"].as_str().unwrap().to_owned(),
        )
    }

    /// Refreshes through `/api/token/refresh/`.
    pub async fn refresh(&self, refresh: &str) -> Reply {
        self.post_json("/api/token/refresh/", json!({"refresh": refresh}))
            .await
    }

    /// The Prometheus text.
    pub async fn metrics(&self) -> String {
        let reply = self.call(Method::GET, "/metrics", &[], Body::empty()).await;
        String::from_utf8(reply.body).unwrap()
    }

    /// Moves the clock.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub fn now(&self) -> i64 {
        refresh_backend::Clock::now(&*self.clock).secs()
    }
}

/// The value of one series in Prometheus text (`name{labels}` exactly).
pub fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

/// Signs arbitrary claims with the test key.
pub fn forge(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// Refresh claims for user "1", valid at [`START`].
pub fn refresh_claims() -> Value {
    json!({
        "token_type": "refresh",
        "exp": START + 3600,
        "iat": START,
        "jti": "0123456789abcdef0123456789abcdef",
        "user_id": "1",
    })
}

/// The claims of a token, unverified.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Serves `config` on a free loopback port for the rest of the test.
pub async fn spawn_server(config: Config) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        app(config),
        ConnectionLimits::default(),
        std::future::pending(),
    ));
    addr
}

/// A fresh directory under the system temp dir, removed by the guard.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("refresh-backend-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
