//! Django OAuth Toolkit 3.4's `/o/token/` (issue 12, part 3): the password
//! and refresh grants with DOT's answers, the grace period, reuse
//! protection, atomic rotation, `/api/data/` with these access tokens and
//! `cleartokens` semantics.

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

use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::*;
use refresh_backend::{Config, Timestamp, TokenStore};
use serde_json::json;

const CLIENT: &str = "spa";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn dot(config: &mut Config) {
    config.oauth.clients = vec![CLIENT.to_owned()];
}

async fn token(app: &TestApp, body: &str) -> Reply {
    token_with(app, &[], body).await
}

async fn token_with(app: &TestApp, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut all = vec![FORM];
    all.extend_from_slice(headers);
    app.call(Method::POST, "/o/token/", &all, body.to_owned())
        .await
}

/// A password grant for alice: (access, refresh).
async fn oauth_login(app: &TestApp) -> (String, String) {
    let reply = token(
        app,
        &format!("grant_type=password&username={USER}&password={PASSWORD}&client_id={CLIENT}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn oauth_refresh(app: &TestApp, refresh: &str) -> Reply {
    token(
        app,
        &format!("grant_type=refresh_token&refresh_token={refresh}&client_id={CLIENT}"),
    )
    .await
}

async fn data_with(app: &TestApp, access: &str) -> StatusCode {
    app.call(
        Method::GET,
        "/api/data/1/",
        &[("authorization", &format!("Bearer {access}"))],
        Body::empty(),
    )
    .await
    .status
}

fn invalid_grant() -> serde_json::Value {
    json!({"error": "invalid_grant"})
}

#[tokio::test]
async fn password_grant_answers_as_dot_with_no_store() {
    let app = test_app(dot);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:"))
    );
    for (headers, body) in [
        (
            vec![],
            format!("grant_type=password&username={USER}&password={PASSWORD}&client_id={CLIENT}"),
        ),
        (
            vec![("authorization", basic.as_str())],
            format!("grant_type=password&username={USER}&password={PASSWORD}"),
        ),
    ] {
        let reply = token_with(&app, &headers, &body).await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = reply.json();
        let access = body["access_token"].as_str().unwrap();
        let refresh = body["refresh_token"].as_str().unwrap();
        assert_eq!(
            body,
            json!({
                "access_token": access,
                "expires_in": 36000,
                "token_type": "Bearer",
                "scope": "read write",
                "refresh_token": refresh,
            })
        );
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "access_token",
                "expires_in",
                "token_type",
                "scope",
                "refresh_token"
            ]
        );
        assert_eq!((access.len(), refresh.len()), (30, 30));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("pragma"), Some("no-cache"));
        assert_eq!(data_with(&app, access).await, StatusCode::OK);
    }
    let reply = token(
        &app,
        &format!("grant_type=password&username={USER}&password=x&client_id={CLIENT}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"error": "invalid_grant", "error_description": "Invalid credentials given."})
    );
    let reply = token(
        &app,
        &format!("grant_type=password&username={USER}&client_id={CLIENT}&scope=read"),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"error": "invalid_request", "error_description": "Request is missing password parameter."})
    );
    let reply = token(
        &app,
        &format!(
            "grant_type=password&username={USER}&password={PASSWORD}&client_id={CLIENT}&scope=read+admin"
        ),
    )
    .await;
    assert_eq!(reply.json(), json!({"error": "invalid_scope"}));
}

#[tokio::test]
async fn refresh_rotates_and_the_previous_access_token_stops_at_once() {
    let app = test_app(dot);
    let (access, refresh) = oauth_login(&app).await;
    let reply = oauth_refresh(&app, &refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    let next_access = body["access_token"].as_str().unwrap();
    let next_refresh = body["refresh_token"].as_str().unwrap();
    assert_ne!(next_refresh, refresh);
    assert_eq!(body["expires_in"], 36000);
    assert_eq!(body["scope"], "read write");
    assert_eq!(data_with(&app, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(data_with(&app, next_access).await, StatusCode::OK);
    // Used, and no grace: refused.
    let reply = oauth_refresh(&app, &refresh).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json(), invalid_grant());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    // A narrower scope is granted; a wider one is not.
    let reply = token(
        &app,
        &format!(
            "grant_type=refresh_token&refresh_token={next_refresh}&client_id={CLIENT}&scope=admin"
        ),
    )
    .await;
    assert_eq!(reply.json(), json!({"error": "invalid_scope"}));
    let reply = token(
        &app,
        &format!(
            "grant_type=refresh_token&refresh_token={next_refresh}&client_id={CLIENT}&scope=read"
        ),
    )
    .await;
    assert_eq!(reply.json()["scope"], "read");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "refresh_requests_total{outcome=\"success\"}"),
        2
    );
    assert_eq!(
        metric(&metrics, "refresh_requests_total{outcome=\"blacklisted\"}"),
        1
    );
}

/// DOT's answers to what is not a usable refresh token, and the requests
/// that leave the presented token unused.
#[tokio::test]
async fn bad_requests_get_dots_errors_and_leave_the_token_unused() {
    let app = test_app(dot);
    let (access, refresh) = oauth_login(&app).await;
    for bad in ["", "garbage", access.as_str()] {
        let reply = oauth_refresh(&app, bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(reply.json(), invalid_grant(), "{bad:?}");
    }
    let with_token = format!("refresh_token={refresh}&client_id={CLIENT}");
    let unsupported = json!({"error": "unsupported_grant_type"});
    for (headers, body, status, expected) in [
        (
            vec![FORM],
            with_token.clone(),
            StatusCode::BAD_REQUEST,
            unsupported.clone(),
        ),
        (
            vec![FORM],
            format!("grant_type=client_credentials&{with_token}"),
            StatusCode::BAD_REQUEST,
            unsupported.clone(),
        ),
        (
            vec![("content-type", "application/json")],
            json!({"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT})
                .to_string(),
            StatusCode::BAD_REQUEST,
            unsupported.clone(),
        ),
        (
            vec![FORM],
            format!("grant_type=refresh_token&client_id={CLIENT}"),
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "Missing refresh token parameter."}),
        ),
        (
            vec![FORM],
            format!("grant_type=refresh_token&refresh_token={refresh}"),
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client"}),
        ),
        (
            vec![FORM],
            format!("grant_type=refresh_token&refresh_token={refresh}&client_id=other"),
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client"}),
        ),
        (
            vec![FORM, ("authorization", "Basic c3BhOnNlY3JldA==")],
            format!("grant_type=refresh_token&refresh_token={refresh}"),
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client"}),
        ),
        (
            vec![FORM, ("authorization", "Basic !!!")],
            format!("grant_type=refresh_token&refresh_token={refresh}"),
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client"}),
        ),
    ] {
        let reply = app.call(Method::POST, "/o/token/", &headers, body).await;
        assert_eq!(reply.status, status, "{expected}");
        assert_eq!(reply.json(), expected);
        let challenge =
            (status == StatusCode::UNAUTHORIZED).then_some("Bearer error=\"invalid_client\"");
        assert_eq!(reply.header("www-authenticate"), challenge);
    }
    let reply = app
        .call(
            Method::POST,
            &format!("/o/token/?refresh_token={refresh}"),
            &[FORM],
            format!("grant_type=refresh_token&refresh_token={refresh}&client_id={CLIENT}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"error": "invalid_request", "error_description": "URL query parameters are not allowed"})
    );
    // None of these used the token up.
    assert_eq!(oauth_refresh(&app, &refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn other_methods_are_405_and_the_endpoint_is_off_without_a_client() {
    let app = test_app(dot);
    let reply = app.call(Method::GET, "/o/token/", &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
    let off = test_app(|_| {});
    let reply = off.call(Method::POST, "/o/token/", &[FORM], "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// `REFRESH_TOKEN_GRACE_PERIOD_SECONDS`: the same pair again within the
/// window, with the access token's remaining `expires_in` (DOT repeats the
/// full lifetime), until that pair's refresh token is itself used.
#[tokio::test]
async fn grace_period_repeats_the_same_pair_until_it_is_used() {
    let app = test_app(|c| {
        dot(c);
        c.rotation_grace = Some(Duration::from_secs(120));
    });
    let (_, refresh) = oauth_login(&app).await;
    let first = oauth_refresh(&app, &refresh).await.json();
    app.advance(100);
    let again = oauth_refresh(&app, &refresh).await;
    assert_eq!(again.status, StatusCode::OK);
    let again = again.json();
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(again["refresh_token"], first["refresh_token"]);
    assert_eq!(again["expires_in"], 36000 - 100);
    let next = first["refresh_token"].as_str().unwrap();
    assert_eq!(oauth_refresh(&app, next).await.status, StatusCode::OK);
    let late = oauth_refresh(&app, &refresh).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert_eq!(late.json(), invalid_grant());
    assert_eq!(
        metric(
            &app.metrics().await,
            "refresh_requests_total{outcome=\"grace_reuse\"}"
        ),
        1
    );
    // The grace flag needs no SimpleJWT rotation with an OAuth client, and
    // leaves SimpleJWT's endpoints at SimpleJWT's default: no rotation.
    let (_, jwt_refresh) = app.login().await;
    let reply = app.refresh(&jwt_refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json().get("refresh"), None);
    assert_eq!(app.refresh(&jwt_refresh).await.status, StatusCode::OK);
}

/// `REFRESH_TOKEN_REUSE_PROTECTION`: a used token outside the window
/// revokes its family, so the live head and its access token stop too.
#[tokio::test]
async fn reuse_outside_the_grace_period_revokes_the_family() {
    let app = test_app(|c| {
        dot(c);
        c.rotation_grace = Some(Duration::from_secs(10));
        c.reuse_detection = true;
    });
    let (_, refresh) = oauth_login(&app).await;
    let head = oauth_refresh(&app, &refresh).await.json();
    app.advance(11);
    let reuse = oauth_refresh(&app, &refresh).await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(reuse.json(), invalid_grant());
    let head_access = head["access_token"].as_str().unwrap();
    assert_eq!(data_with(&app, head_access).await, StatusCode::UNAUTHORIZED);
    let head_refresh = head["refresh_token"].as_str().unwrap();
    assert_eq!(
        oauth_refresh(&app, head_refresh).await.json(),
        invalid_grant()
    );
    // Another login is another family.
    let (_, other) = oauth_login(&app).await;
    assert_eq!(oauth_refresh(&app, &other).await.status, StatusCode::OK);
    assert_eq!(
        metric(
            &app.metrics().await,
            "refresh_requests_total{outcome=\"reuse_detected\"}"
        ),
        1
    );
}

/// A configuration by name, and how many refreshes must succeed (`None`:
/// at least one).
type Case = (&'static str, fn(&mut Config), Option<usize>);

/// 50 concurrent refreshes of one token: with atomic rotation exactly one
/// succeeds; with reuse protection too, none is a 500 (DOT 3.4's is); by
/// default, as DOT on SQLite, several may succeed, but none fails badly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token() {
    let cases: [Case; 3] = [
        (
            "atomic",
            |c| {
                dot(c);
                c.atomic_rotation = true;
            },
            Some(1),
        ),
        (
            "reuse protection",
            |c| {
                dot(c);
                c.reuse_detection = true;
            },
            Some(1),
        ),
        ("dot default", dot, None),
    ];
    for (name, adjust, exactly) in cases {
        let app = Arc::new(test_app(adjust));
        let (_, refresh) = oauth_login(&app).await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let app = Arc::clone(&app);
            let refresh = refresh.clone();
            tasks.spawn(async move { oauth_refresh(&app, &refresh).await });
        }
        let mut successes = 0;
        while let Some(reply) = tasks.join_next().await {
            let reply = reply.unwrap();
            match reply.status {
                StatusCode::OK => successes += 1,
                StatusCode::BAD_REQUEST => assert_eq!(reply.json(), invalid_grant(), "{name}"),
                other => panic!("{name}: {other} {:?}", reply.json()),
            }
        }
        match exactly {
            Some(n) => assert_eq!(successes, n, "{name}"),
            None => assert!(successes >= 1, "{name}"),
        }
    }
}

#[tokio::test]
async fn an_expired_oauth_access_token_is_refused() {
    let app = test_app(|c| {
        dot(c);
        c.oauth.access_token_lifetime = Duration::from_secs(60);
    });
    let (access, _) = oauth_login(&app).await;
    assert_eq!(data_with(&app, &access).await, StatusCode::OK);
    app.advance(61);
    let reply = app
        .call(
            Method::GET,
            "/api/data/1/",
            &[("authorization", &format!("Bearer {access}"))],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["code"], "token_not_valid");
}

/// Seed 002, DOT's `cleartokens`: expired access tokens, and the refresh
/// tokens revoked or expired longer ago than `REFRESH_TOKEN_EXPIRE_SECONDS`,
/// go together with no orphan left; a grant still alive keeps its tokens,
/// even an access token that expired.
#[tokio::test]
async fn flush_clears_tokens_as_dot_cleartokens_does() {
    let app = test_app(|c| {
        dot(c);
        c.oauth.access_token_lifetime = Duration::from_secs(60);
    });
    // An old grant, rotated twice: two revoked refresh tokens and a head.
    let (_, old) = oauth_login(&app).await;
    let old = oauth_refresh(&app, &old).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_head = oauth_refresh(&app, &old).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.advance(2 * 86_400);
    // A live grant whose access token has just expired.
    let (_, live) = oauth_login(&app).await;
    app.advance(61);
    let counts = app.store.oauth_counts().unwrap();
    assert_eq!((counts.access, counts.refresh), (2, 4));

    let now = Timestamp::from_secs(app.now());
    let report = app
        .store
        .oauth_flush(now, Some(Duration::from_secs(86_400)))
        .unwrap();
    // The old grant's three refresh tokens (two revoked, the head's access
    // token long expired), then its access token.
    assert_eq!((report.refresh, report.access), (3, 1));
    let counts = app.store.oauth_counts().unwrap();
    assert_eq!((counts.access, counts.refresh, counts.orphans), (1, 1, 0));
    assert_eq!(oauth_refresh(&app, &live).await.status, StatusCode::OK);
    assert_eq!(oauth_refresh(&app, &old_head).await.json(), invalid_grant());

    // Without a refresh token lifetime (DOT's default) refresh tokens stay;
    // only expired access tokens no refresh token refers to would go.
    let report = app.store.oauth_flush(now, None).unwrap();
    assert_eq!((report.refresh, report.access), (0, 0));
    let counts = app.store.oauth_counts().unwrap();
    assert_eq!(counts.orphans, 0);
}

/// The test hooks' faults apply to refresh grants too: an injected 500 and
/// 429 leave the token unused and are counted; a password grant is not a
/// refresh and takes none.
#[tokio::test]
async fn armed_faults_apply_to_refresh_grants() {
    let app = test_app(|c| {
        dot(c);
        c.test_hooks = true;
    });
    app.post_json(
        "/api/_test/faults",
        json!({"fail_500": 1, "fail_429": 1, "retry_after": 2}),
    )
    .await;
    let (_, refresh) = oauth_login(&app).await;
    let reply = oauth_refresh(&app, &refresh).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let reply = oauth_refresh(&app, &refresh).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(oauth_refresh(&app, &refresh).await.status, StatusCode::OK);
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "refresh_requests_total{outcome=\"injected_500\"}"),
        1
    );
    assert_eq!(
        metric(&metrics, "refresh_requests_total{outcome=\"injected_429\"}"),
        1
    );
}
