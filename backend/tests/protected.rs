//! The protected endpoints and `/metrics`, through `oneshot`.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};

fn rejected(message: &str) -> serde_json::Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    })
}

#[tokio::test]
async fn data_answers_with_bearer_header_or_access_cookie() {
    let app = test_app(|_| {});
    let (access, _) = app.login().await;
    let bearer = format!("Bearer {access}");
    let reply = app
        .call(
            Method::GET,
            "/api/data/42/",
            &[("authorization", &bearer)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"n": 42}));
    let cookie = format!("access={access}");
    let reply = app
        .call(
            Method::GET,
            "/api/data/7/",
            &[("cookie", &cookie)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.json(), json!({"n": 7}));
    let reply = app
        .call(
            Method::HEAD,
            "/api/data/7/",
            &[("cookie", &cookie)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_foreign_credentials_are_not_provided() {
    let app = test_app(|_| {});
    for headers in [
        vec![],
        vec![("authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")],
        vec![("authorization", "")],
        vec![("authorization", "bearer lowercase-scheme")],
        vec![("cookie", "access=")],
    ] {
        let reply = app
            .call(Method::GET, "/api/data/1/", &headers, Body::empty())
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(
            reply.json(),
            json!({"detail": "Authentication credentials were not provided."})
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"api\"")
        );
    }
}

#[tokio::test]
async fn bad_tokens_get_simplejwt_messages_per_token_class() {
    let app = test_app(|_| {});
    let (access, refresh) = app.login().await;
    let mut expired = claims_of(&access);
    expired["exp"] = json!(START - 1);
    let mut no_user = claims_of(&access);
    no_user.as_object_mut().unwrap().remove("user_id");
    let cases = [
        ("garbage".to_owned(), rejected("Token is invalid")),
        (refresh, rejected("Token has wrong type")),
        (forge(expired), rejected("Token is expired")),
        (
            forge(no_user),
            json!({"detail": "Token contained no recognizable user identification", "code": "token_not_valid"}),
        ),
    ];
    for (token, expected) in cases {
        let header = format!("Bearer {token}");
        let reply = app
            .call(
                Method::GET,
                "/api/data/1/",
                &[("authorization", &header)],
                Body::empty(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json(), expected);
    }
}

#[tokio::test]
async fn malformed_or_doubled_authorization_headers_are_401() {
    let app = test_app(|_| {});
    let (access, _) = app.login().await;
    let expected = json!({
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    });
    let doubled = format!("Bearer {access}");
    for headers in [
        vec![("authorization", "Bearer")],
        vec![("authorization", "Bearer a b")],
        vec![
            ("authorization", doubled.as_str()),
            ("authorization", doubled.as_str()),
        ],
    ] {
        let reply = app
            .call(Method::GET, "/api/data/1/", &headers, Body::empty())
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json(), expected);
    }
}

#[tokio::test]
async fn deleted_user_is_user_not_found() {
    let app = test_app(|_| {});
    let (access, _) = app.login().await;
    refresh_backend::TokenStore::delete_user(&*app.store, USER).unwrap();
    let header = format!("Bearer {access}");
    let reply = app
        .call(
            Method::GET,
            "/api/data/1/",
            &[("authorization", &header)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "User not found", "code": "user_not_found"})
    );
}

#[tokio::test(start_paused = true)]
async fn delay_ms_holds_the_answer_and_is_capped() {
    let app = test_app(|_| {});
    let (access, _) = app.login().await;
    let header = format!("Bearer {access}");
    let started = tokio::time::Instant::now();
    let reply = app
        .call(
            Method::GET,
            "/api/data/3/?delay_ms=250",
            &[("authorization", &header)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.json(), json!({"n": 3}));
    assert_eq!(started.elapsed().as_millis(), 250);
    let started = tokio::time::Instant::now();
    app.call(
        Method::GET,
        "/api/data/3/?delay_ms=999999",
        &[("authorization", &header)],
        Body::empty(),
    )
    .await;
    assert_eq!(started.elapsed().as_secs(), 10);
    let reply = app
        .call(
            Method::GET,
            "/api/data/3/?delay_ms=soon",
            &[("authorization", &header)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"delay_ms": ["A valid integer is required."]})
    );
}

#[tokio::test]
async fn post_data_digests_the_raw_body() {
    let app = test_app(|_| {});
    let (access, _) = app.login().await;
    let header = format!("Bearer {access}");
    let body =
        b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\x00\xff\r\n--xyz--\r\n"
            .to_vec();
    let content_type = "multipart/form-data; boundary=xyz";
    let reply = app
        .call(
            Method::POST,
            "/api/data/9/",
            &[("authorization", &header), ("content-type", content_type)],
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let digest: String = Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        reply.json(),
        json!({"n": 9, "sha256": digest, "length": body.len(), "content_type": content_type})
    );
    let reply = app
        .call(
            Method::POST,
            "/api/data/9/",
            &[("authorization", &header)],
            Body::empty(),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({
            "n": 9,
            "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "length": 0,
            "content_type": "",
        })
    );
    let reply = app
        .call(
            Method::POST,
            "/api/data/9/",
            &[("authorization", &header)],
            vec![b'x'; 65 * 1024],
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let reply = app.call(Method::POST, "/api/data/9/", &[], "x").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_count_every_outcome_exactly() {
    let app = test_app(rotating);
    let (access, refresh) = app.login().await;
    let next = app.refresh(&refresh).await.json()["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    app.refresh(&refresh).await; // blacklisted
    app.refresh("garbage").await; // invalid
    app.refresh(&access).await; // wrong type
    app.post_json("/api/token/refresh/", json!({})).await; // missing
    app.refresh(&next).await; // success
    let header = format!("Bearer {access}");
    app.call(
        Method::GET,
        "/api/data/1/",
        &[("authorization", &header)],
        Body::empty(),
    )
    .await;
    app.call(Method::GET, "/api/data/1/", &[], Body::empty())
        .await;
    let reply = app.call(Method::GET, "/metrics", &[], Body::empty()).await;
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = app.metrics().await;
    for (series, value) in [
        ("refresh_requests_total{outcome=\"success\"}", 2),
        ("refresh_requests_total{outcome=\"blacklisted\"}", 1),
        ("refresh_requests_total{outcome=\"invalid\"}", 1),
        ("refresh_requests_total{outcome=\"wrong_type\"}", 1),
        ("refresh_requests_total{outcome=\"missing\"}", 1),
        ("refresh_requests_total{outcome=\"grace_reuse\"}", 0),
        ("token_rotations_total", 2),
        ("blacklist_hits_total", 1),
        ("grace_reuses_total", 0),
        ("reuse_detections_total", 0),
        ("logins_total", 1),
        ("protected_requests_total{outcome=\"ok\"}", 1),
        ("protected_requests_total{outcome=\"unauthorized\"}", 1),
        ("refresh_duration_seconds_count", 6),
    ] {
        assert_eq!(metric(&text, series), value, "{series}");
    }
}

/// The late 401 of the end-to-end tests: the delay comes before
/// authentication, so a slow request's 401 arrives late too.
#[tokio::test(start_paused = true)]
async fn delay_ms_comes_before_authentication_so_a_401_arrives_late() {
    let app = test_app(|_| {});
    let (access, _) = app.login().await;
    let header = format!("Bearer {access}");
    app.advance(6 * 60); // past the default 5-minute access lifetime
    let started = tokio::time::Instant::now();
    let reply = app
        .call(
            Method::GET,
            "/api/data/3/?delay_ms=250",
            &[("authorization", &header)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(started.elapsed().as_millis(), 250, "the 401 waited too");
}
