//! Issue 14: the PostgreSQL store behind the same trait, on a throw-away
//! cluster: SimpleJWT's and DOT's semantics as on SQLite, and three
//! instances on one database with rotation still exact across them.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::http::{request, Connection};
use common::postgres::Cluster;
use common::*;
use jsonwebtoken::Algorithm;
use refresh_backend::{
    app, hash_password, serve, Config, ConnectionLimits, ManualClock, PostgresStore, SigningKeys,
    Timestamp, TokenStore,
};
use serde_json::json;

/// A config on `store` with the test key and a clock at [`START`].
fn pg_config(
    store: Arc<PostgresStore>,
    clock: Arc<ManualClock>,
    adjust: fn(&mut Config),
) -> Config {
    let keys = SigningKeys::hmac(Algorithm::HS256, SECRET).unwrap();
    let mut config = Config::new(store, keys);
    config.clock = clock;
    adjust(&mut config);
    config.validate().unwrap();
    config
}

/// The `oneshot` helpers of [`TestApp`] around a router on PostgreSQL
/// (the fixture's own SQLite store is left empty and unused).
fn on_postgres(router: axum::Router, clock: &Arc<ManualClock>) -> TestApp {
    TestApp {
        router,
        store: Arc::new(refresh_backend::SqliteStore::in_memory().unwrap()),
        clock: clock.clone(),
        user_pk: 0,
        user_uuid: String::new(),
    }
}

fn connect(url: &str) -> Arc<PostgresStore> {
    let store = PostgresStore::connect(url, 4).unwrap();
    store
        .upsert_user(USER, &hash_password(PASSWORD, 2).unwrap())
        .unwrap();
    Arc::new(store)
}

fn atomic(c: &mut Config) {
    rotating(c);
    c.atomic_rotation = true;
}

fn grace(c: &mut Config) {
    rotating(c);
    c.rotation_grace = Some(Duration::from_secs(30));
    c.reuse_detection = true;
}

/// `instances` servers on one database, each with its own store and pool.
async fn instances(
    url: &str,
    n: usize,
    adjust: fn(&mut Config),
) -> (Vec<SocketAddr>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(START)));
    let mut addrs = Vec::new();
    for _ in 0..n {
        let url = url.to_owned();
        let store = tokio::task::spawn_blocking(move || connect(&url))
            .await
            .unwrap();
        let config = pg_config(store, clock.clone(), adjust);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        tokio::spawn(serve(
            listener,
            app(config),
            ConnectionLimits::default(),
            std::future::pending(),
        ));
    }
    (addrs, clock)
}

async fn post(addr: SocketAddr, path: &str, body: serde_json::Value) -> common::http::HttpResponse {
    let body = body.to_string();
    Connection::open(addr)
        .await
        .unwrap()
        .exchange(&request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        ))
        .await
        .unwrap()
}

async fn login(addr: SocketAddr) -> String {
    let reply = post(
        addr,
        "/api/token/",
        json!({"username": USER, "password": PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()["refresh"].as_str().unwrap().to_owned()
}

/// 50 concurrent refreshes of `refresh`, spread round-robin over `addrs`.
async fn storm(addrs: &[SocketAddr], refresh: &str) -> Vec<common::http::HttpResponse> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let addr = addrs[i % addrs.len()];
        let refresh = refresh.to_owned();
        tasks.spawn(
            async move { post(addr, "/api/token/refresh/", json!({"refresh": refresh})).await },
        );
    }
    let mut replies = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        assert!(reply.status < 500, "{:?}", reply.json());
        replies.push(reply);
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_database_rotate_exactly() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start("cluster"))
        .await
        .unwrap();
    let url = tokio::task::block_in_place(|| cluster.database("three"));

    // Atomic rotation: of 50 refreshes over 3 instances exactly one wins.
    let (addrs, _) = instances(&url, 3, atomic).await;
    let refresh = login(addrs[0]).await;
    let replies = storm(&addrs, &refresh).await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1);
    for loser in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(
            loser.json(),
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        );
    }
    // The winner's successor works on every instance, once.
    let next = winners[0].json()["refresh"].as_str().unwrap().to_owned();
    assert_eq!(
        post(addrs[2], "/api/token/refresh/", json!({"refresh": next}))
            .await
            .status,
        200
    );

    // A grace window: all 50 get the same successor, whichever instance;
    // reuse after the window revokes the family on every instance.
    let (addrs, clock) = instances(&url, 3, grace).await;
    let refresh = login(addrs[1]).await;
    let replies = storm(&addrs, &refresh).await;
    let successors: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{:?}", r.json());
            r.json()["refresh"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(successors.iter().all(|s| *s == successors[0]));
    clock.advance(Duration::from_secs(31));
    let reuse = post(addrs[0], "/api/token/refresh/", json!({"refresh": refresh})).await;
    assert_eq!(reuse.status, 401);
    for addr in &addrs {
        let head = post(
            *addr,
            "/api/token/refresh/",
            json!({"refresh": successors[0]}),
        )
        .await;
        assert_eq!(head.status, 401, "the family is revoked everywhere");
    }
    drop(cluster);
}

/// The store's own semantics on PostgreSQL, as the SQLite store's tests
/// check them: rotation, blacklist, grace, reuse, flush, DOT's tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_the_sqlite_semantics() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start("store"))
        .await
        .unwrap();
    let url = tokio::task::block_in_place(|| cluster.database("store"));
    let store = tokio::task::block_in_place(|| connect(&url));
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(START)));

    // The seeds' configuration through the app: rotation + blacklist, the
    // spent token refused, logout blacklisting, flush without orphans.
    let config = pg_config(store.clone(), clock.clone(), rotating);
    let test = on_postgres(app(config), &clock);
    let (_, refresh) = test.login().await;
    let next = test.refresh(&refresh).await;
    assert_eq!(next.status, StatusCode::OK);
    let spent = test.refresh(&refresh).await;
    assert_eq!(
        spent.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    let next = next.json()["refresh"].as_str().unwrap().to_owned();
    let reply = test
        .post_json("/api/token/blacklist/", json!({"refresh": next}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts.outstanding, counts.blacklisted, counts.orphans),
        (2, 2, 0)
    );
    let report = store
        .flush_expired(Timestamp::from_secs(START + 2 * 86_400))
        .unwrap();
    assert_eq!((report.outstanding, report.blacklisted), (2, 2));
    assert_eq!(store.counts().unwrap().orphans, 0);

    // DOT's /o/token/ on the same store: rotation, the old access token
    // gone, cleartokens.
    let config = pg_config(store.clone(), clock.clone(), |c| {
        c.oauth.clients = vec!["spa".to_owned()];
    });
    let test = on_postgres(app(config), &clock);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let pair = test
        .call(
            axum::http::Method::POST,
            "/o/token/",
            &form,
            format!("grant_type=password&username={USER}&password={PASSWORD}&client_id=spa"),
        )
        .await
        .json();
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&client_id=spa",
        pair["refresh_token"].as_str().unwrap()
    );
    let rotated = test
        .call(axum::http::Method::POST, "/o/token/", &form, body.clone())
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let again = test
        .call(axum::http::Method::POST, "/o/token/", &form, body)
        .await;
    assert_eq!(again.json(), json!({"error": "invalid_grant"}));
    let counts = store.oauth_counts().unwrap();
    assert_eq!((counts.access, counts.refresh, counts.orphans), (1, 2, 0));
    let report = store
        .oauth_flush(
            Timestamp::from_secs(START + 3 * 86_400),
            Some(Duration::from_secs(86_400)),
        )
        .unwrap();
    assert_eq!((report.refresh, report.access), (2, 1));
    assert_eq!(store.oauth_counts().unwrap().orphans, 0);
    drop(cluster);
}

/// One `refresh-backend` process on the database; killed when dropped.
struct Instance {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Instance {
    fn start(url: &str) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_refresh-backend"))
            .args(["--addr", "127.0.0.1:0", "--db", url, "--db-pool", "2"])
            .args([
                "--signing-key",
                "test-only-shared-key",
                "--user",
                "alice:wonderland",
            ])
            .args([
                "--rotate-refresh-tokens",
                "--blacklist-after-rotation",
                "--atomic-rotation",
            ])
            .env("REFRESH_BACKEND_PASSWORD_ITERATIONS", "2")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Self { child, addr }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Our own child, by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An instance killed in the middle of a burst loses no committed
/// rotation: the others keep serving, one successor was committed, and it
/// is the token that works, whether or not its answer got out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_burst_loses_no_committed_rotation() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start("killed"))
        .await
        .unwrap();
    let url = tokio::task::block_in_place(|| cluster.database("killed"));
    let mut instances: Vec<Instance> = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || (0..3).map(|_| Instance::start(&url)).collect())
            .await
            .unwrap()
    };
    let addrs: Vec<SocketAddr> = instances.iter().map(|i| i.addr).collect();
    let refresh = login(addrs[1]).await;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let addr = addrs[i % addrs.len()];
        let body = json!({"refresh": refresh}).to_string();
        tasks.spawn(async move {
            let mut conn = Connection::open(addr).await?;
            conn.exchange(&request(
                "POST",
                "/api/token/refresh/",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            ))
            .await
        });
    }
    // Mid-burst: the first instance dies with whatever it had in flight.
    drop(instances.remove(0));
    let mut answered = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Ok(reply) = result.unwrap() {
            assert!(reply.status < 500, "{:?}", reply.json());
            answered.push(reply);
        }
    }
    let successes: Vec<_> = answered.iter().filter(|r| r.status == 200).collect();
    assert!(successes.len() <= 1, "{} successes", successes.len());

    // The database holds the login token and exactly one successor.
    let committed: Vec<String> = {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query("SELECT token FROM outstanding_tokens ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    assert_eq!(committed.len(), 2, "one rotation committed");
    let successor = &committed[1];
    if let Some(winner) = successes.first() {
        assert_eq!(winner.json()["refresh"], json!(successor));
    }
    for addr in &addrs[1..] {
        let spent = post(*addr, "/api/token/refresh/", json!({"refresh": refresh})).await;
        assert_eq!(spent.status, 401);
    }
    let next = post(
        addrs[2],
        "/api/token/refresh/",
        json!({"refresh": successor}),
    )
    .await;
    assert_eq!(next.status, 200, "the committed successor works");
    drop(instances);
    drop(cluster);
}

/// The client backends of `url`'s database other than the caller's:
/// `pg_terminate_backend`ed when `end` is set, else only counted.
async fn other_backends(url: &str, end: bool) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let of = if end {
        "pg_terminate_backend(pid)"
    } else {
        "*"
    };
    let sql = format!(
        "SELECT count({of}) FROM pg_stat_activity WHERE datname = current_database()
         AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    );
    client.query_one(&sql, &[]).await.unwrap().get(0)
}

/// A connection the server ends (a restart, a failover, an administrator's
/// `pg_terminate_backend`) is replaced on its next use: after every
/// connection of the pool was ended, the store's next calls, twice as many
/// as the pool holds, all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_ended_are_replaced() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start("ended"))
        .await
        .unwrap();
    let url = tokio::task::block_in_place(|| cluster.database("ended"));
    let store = tokio::task::block_in_place(|| connect(&url));
    // Calls at once, so that the pool opens more than one connection.
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        calls.spawn_blocking(move || store.counts().map(|_| ()));
    }
    while let Some(call) = calls.join_next().await {
        call.unwrap().unwrap();
    }

    assert!(other_backends(&url, true).await >= 1);
    // Gone on the server, then a moment for the sockets' ends to arrive.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while other_backends(&url, false).await > 0 {
        assert!(std::time::Instant::now() < deadline, "backends still there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    for call in 0..8 {
        let counts = tokio::task::block_in_place(|| store.counts());
        assert!(counts.is_ok(), "call {call} after the ends: {counts:?}");
    }
    drop(cluster);
}
