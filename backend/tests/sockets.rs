//! Real-socket tests: cookies on the wire, 50 concurrent refreshes of one
//! token in each rotation mode, and the connection-cutting faults. The
//! concurrent requests are released together by a barrier, never by sleeps.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::http::{cookie_value, request, Connection, HttpResponse, Received};
use common::*;
use serde_json::json;
use tokio::sync::Barrier;

const CLIENTS: usize = 50;

fn json_post(path: &str, body: &serde_json::Value, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    request("POST", path, &headers, &serde_json::to_vec(body).unwrap())
}

async fn login_over(addr: std::net::SocketAddr) -> HttpResponse {
    let mut conn = Connection::open(addr).await.unwrap();
    conn.exchange(&json_post(
        "/api/auth/login/",
        &json!({"username": USER, "password": PASSWORD}),
        &[],
    ))
    .await
    .unwrap()
}

fn set_cookie(response: &HttpResponse, name: &str) -> String {
    response
        .headers_named("set-cookie")
        .iter()
        .find_map(|line| cookie_value(line, name))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_on_the_wire_are_httponly_lax_and_rooted() {
    let (config, ..) = config_with(rotating);
    let addr = spawn_server(config).await;
    let login = login_over(addr).await;
    assert_eq!(login.status, 200);
    let lines = login.headers_named("set-cookie");
    assert_eq!(lines.len(), 2);
    for (line, name, max_age) in [(lines[0], "access", 300), (lines[1], "refresh", 86_400)] {
        let attributes: Vec<&str> = line.split("; ").skip(1).collect();
        assert!(line.starts_with(&format!("{name}=ey")), "{line}");
        assert_eq!(attributes[0].split_once('=').unwrap().0, "expires");
        assert_eq!(
            attributes[1..],
            [
                "HttpOnly",
                &format!("Max-Age={max_age}"),
                "Path=/",
                "SameSite=Lax"
            ]
        );
    }
    // The refresh cookie works on a keep-alive connection, twice in a row.
    let mut conn = Connection::open(addr).await.unwrap();
    let mut refresh = set_cookie(&login, "refresh");
    for _ in 0..2 {
        let cookie = format!("refresh={refresh}");
        let reply = conn
            .exchange(&request(
                "POST",
                "/api/auth/token/refresh/",
                &[("Cookie", &cookie)],
                b"",
            ))
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{:?}", reply.json());
        assert_eq!(reply.headers_named("set-cookie").len(), 2);
        refresh = set_cookie(&reply, "refresh");
    }
}

/// Fires `CLIENTS` refreshes of `refresh` at once, one connection each.
async fn refresh_storm(addr: std::net::SocketAddr, refresh: &str) -> Vec<HttpResponse> {
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let barrier = barrier.clone();
        let bytes = json_post("/api/token/refresh/", &json!({"refresh": refresh}), &[]);
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::open(addr).await.unwrap();
            barrier.wait().await;
            conn.exchange(&bytes).await.unwrap()
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

async fn metrics_over(addr: std::net::SocketAddr) -> String {
    let mut conn = Connection::open(addr).await.unwrap();
    let reply = conn
        .exchange(&request("GET", "/metrics", &[], b""))
        .await
        .unwrap();
    String::from_utf8(reply.body).unwrap()
}

async fn body_login(addr: std::net::SocketAddr) -> String {
    let mut conn = Connection::open(addr).await.unwrap();
    let reply = conn
        .exchange(&json_post(
            "/api/token/",
            &json!({"username": USER, "password": PASSWORD}),
            &[],
        ))
        .await
        .unwrap();
    reply.json()["refresh"].as_str().unwrap().to_owned()
}

fn blacklisted() -> serde_json::Value {
    json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
}

/// SimpleJWT's behaviour: several of the concurrent refreshes may succeed
/// and fork the chain. Nothing but 200 or "blacklisted" may come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_refreshes_without_atomic_rotation_never_error() {
    let (config, ..) = config_with(rotating);
    let addr = spawn_server(config).await;
    let refresh = body_login(addr).await;
    let replies = refresh_storm(addr, &refresh).await;
    let successes: Vec<&HttpResponse> = replies.iter().filter(|r| r.status == 200).collect();
    for reply in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json(), blacklisted());
    }
    assert!(!successes.is_empty());
    let mut successors: Vec<String> = successes
        .iter()
        .map(|r| r.json()["refresh"].as_str().unwrap().to_owned())
        .collect();
    successors.sort();
    successors.dedup();
    assert_eq!(
        successors.len(),
        successes.len(),
        "each success is its own branch"
    );
    let text = metrics_over(addr).await;
    assert_eq!(
        metric(&text, "token_rotations_total"),
        successes.len() as u64
    );
    eprintln!(
        "without --atomic-rotation: {} of {CLIENTS} concurrent refreshes succeeded",
        successes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_refreshes_with_atomic_rotation_have_one_winner() {
    let (config, ..) = config_with(|c| {
        rotating(c);
        c.atomic_rotation = true;
    });
    let addr = spawn_server(config).await;
    let refresh = body_login(addr).await;
    let replies = refresh_storm(addr, &refresh).await;
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1);
    for reply in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json(), blacklisted());
    }
    let text = metrics_over(addr).await;
    assert_eq!(metric(&text, "token_rotations_total"), 1);
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"blacklisted\"}"),
        CLIENTS as u64 - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_refreshes_with_grace_all_get_the_same_successor() {
    let (config, ..) = config_with(|c| {
        rotating(c);
        c.rotation_grace = Some(Duration::from_secs(30));
    });
    let addr = spawn_server(config).await;
    let refresh = body_login(addr).await;
    let replies = refresh_storm(addr, &refresh).await;
    let successors: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{:?}", r.json());
            r.json()["refresh"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(
        successors.iter().all(|s| *s == successors[0]),
        "one successor for all"
    );
    let text = metrics_over(addr).await;
    assert_eq!(metric(&text, "token_rotations_total"), 1);
    assert_eq!(metric(&text, "grace_reuses_total"), CLIENTS as u64 - 1);
}

fn hooked_with_grace(c: &mut refresh_backend::Config) {
    rotating(c);
    c.rotation_grace = Some(Duration::from_secs(30));
    c.test_hooks = true;
}

async fn arm(addr: std::net::SocketAddr, plan: serde_json::Value) {
    let mut conn = Connection::open(addr).await.unwrap();
    let reply = conn
        .exchange(&json_post("/api/_test/faults", &plan, &[]))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
}

/// Sends `bytes` on a new connection, which must close without a byte.
async fn assert_answer_lost(addr: std::net::SocketAddr, bytes: &[u8]) {
    let mut conn = Connection::open(addr).await.unwrap();
    conn.send(bytes).await.unwrap();
    assert!(matches!(
        conn.receive().await.unwrap(),
        Received::ClosedEmpty
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_commits_then_closes_without_a_byte() {
    let (config, ..) = config_with(hooked_with_grace);
    let addr = spawn_server(config).await;
    let login = login_over(addr).await;
    let refresh = set_cookie(&login, "refresh");
    arm(addr, json!({"lost_response": 1})).await;
    let cookie = format!("refresh={refresh}");
    let bytes = request(
        "POST",
        "/api/auth/token/refresh/",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_answer_lost(addr, &bytes).await;
    // The rotation happened: the old cookie is now a grace reuse, and the
    // retry is answered normally (the fault was used up).
    let mut conn = Connection::open(addr).await.unwrap();
    let retry = conn.exchange(&bytes).await.unwrap();
    assert_eq!(retry.status, 200);
    let text = metrics_over(addr).await;
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"success\"}"),
        1
    );
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"grace_reuse\"}"),
        1
    );
    assert_eq!(
        metric(&text, "injected_faults_total{kind=\"lost_response\"}"),
        1
    );
    assert_eq!(metric(&text, "token_rotations_total"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_lands_the_cookies_then_cuts_the_body() {
    let (config, ..) = config_with(hooked_with_grace);
    let addr = spawn_server(config).await;
    let login = login_over(addr).await;
    let refresh = set_cookie(&login, "refresh");
    arm(addr, json!({"truncated_body": 1})).await;
    let cookie = format!("refresh={refresh}");
    let mut conn = Connection::open(addr).await.unwrap();
    conn.send(&request(
        "POST",
        "/api/auth/token/refresh/",
        &[("Cookie", &cookie)],
        b"",
    ))
    .await
    .unwrap();
    let Received::Truncated(partial) = conn.receive().await.unwrap() else {
        panic!("expected a truncated response");
    };
    assert_eq!(partial.status, 200);
    let promised: usize = partial.header("content-length").unwrap().parse().unwrap();
    assert!(
        partial.body.len() < promised,
        "{} of {promised}",
        partial.body.len()
    );
    let new_refresh = set_cookie(&partial, "refresh");
    assert_ne!(new_refresh, refresh);
    // The cookie that landed is the head of the chain.
    let cookie = format!("refresh={new_refresh}");
    let mut conn = Connection::open(addr).await.unwrap();
    let next = conn
        .exchange(&request(
            "POST",
            "/api/auth/token/refresh/",
            &[("Cookie", &cookie)],
            b"",
        ))
        .await
        .unwrap();
    assert_eq!(next.status, 200);
    let text = metrics_over(addr).await;
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"success\"}"),
        2
    );
    assert_eq!(
        metric(&text, "injected_faults_total{kind=\"truncated_body\"}"),
        1
    );
}

/// A lost `/o/token/` answer: the rotation is committed, the connection
/// closes without a byte, and within DOT's grace period the retry gets the
/// very pair that was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_oauth_answer_is_recovered_within_the_grace_period() {
    let (config, ..) = config_with(|c| {
        c.oauth.clients = vec!["spa".to_owned()];
        c.rotation_grace = Some(Duration::from_secs(30));
        c.test_hooks = true;
    });
    let addr = spawn_server(config).await;
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let login = format!("grant_type=password&username={USER}&password={PASSWORD}&client_id=spa");
    let mut conn = Connection::open(addr).await.unwrap();
    let pair = conn
        .exchange(&request("POST", "/o/token/", &form, login.as_bytes()))
        .await
        .unwrap()
        .json();
    let refresh = pair["refresh_token"].as_str().unwrap();
    arm(addr, json!({"lost_response": 1})).await;
    let body = format!("grant_type=refresh_token&refresh_token={refresh}&client_id=spa");
    let bytes = request("POST", "/o/token/", &form, body.as_bytes());
    assert_answer_lost(addr, &bytes).await;
    let mut conn = Connection::open(addr).await.unwrap();
    let first_retry = conn.exchange(&bytes).await.unwrap();
    let second_retry = conn.exchange(&bytes).await.unwrap();
    assert_eq!(first_retry.status, 200);
    assert_eq!(first_retry.json(), second_retry.json());
    assert_ne!(first_retry.json()["refresh_token"], pair["refresh_token"]);
    let text = metrics_over(addr).await;
    assert_eq!(metric(&text, "token_rotations_total"), 1);
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"grace_reuse\"}"),
        2
    );
}
