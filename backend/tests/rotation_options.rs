//! What goes beyond SimpleJWT, each off by default: atomic rotation, the
//! grace window, reuse detection, the session cap. Concurrency here is
//! driven by polling order on a single-threaded runtime, not by timing.

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

use axum::http::StatusCode;
use common::*;
use serde_json::json;

fn refresh_of(reply: &Reply) -> String {
    reply.json()["refresh"].as_str().unwrap().to_owned()
}

/// Two refreshes of one token, interleaved: each passes the blacklist check
/// before either blacklists (SimpleJWT's separate queries), so the default
/// backend forks the chain, as Django does.
#[tokio::test(flavor = "current_thread")]
async fn default_rotation_forks_the_chain_like_simplejwt() {
    let app = test_app(rotating);
    let (_, refresh) = app.login().await;
    let (a, b) = tokio::join!(app.refresh(&refresh), app.refresh(&refresh));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_ne!(
        refresh_of(&a),
        refresh_of(&b),
        "two live successors: a forked chain"
    );
    assert_eq!(app.refresh(&refresh_of(&a)).await.status, StatusCode::OK);
    assert_eq!(app.refresh(&refresh_of(&b)).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "current_thread")]
async fn atomic_rotation_lets_exactly_one_of_two_interleaved_refreshes_win() {
    let app = test_app(|c| {
        rotating(c);
        c.atomic_rotation = true;
    });
    let (_, refresh) = app.login().await;
    let (a, b) = tokio::join!(app.refresh(&refresh), app.refresh(&refresh));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
    let loser = if a.status == StatusCode::OK { &b } else { &a };
    assert_eq!(
        loser.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    assert_eq!(metric(&app.metrics().await, "token_rotations_total"), 1);
}

fn with_grace(secs: u64) -> impl FnOnce(&mut refresh_backend::Config) {
    move |c| {
        rotating(c);
        c.rotation_grace = Some(Duration::from_secs(secs));
    }
}

#[tokio::test]
async fn grace_window_hands_the_previous_token_the_same_successor() {
    let app = test_app(with_grace(10));
    let (_, t0) = app.login().await;
    let first = app.refresh(&t0).await;
    let t1 = refresh_of(&first);
    app.advance(10);
    let again = app.refresh(&t0).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        refresh_of(&again),
        t1,
        "the same successor, never a new branch"
    );
    assert_ne!(again.json()["access"], first.json()["access"]);
    let text = app.metrics().await;
    assert_eq!(metric(&text, "grace_reuses_total"), 1);
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"grace_reuse\"}"),
        1
    );
    assert_eq!(metric(&text, "token_rotations_total"), 1);
    // Outside the window the previous token is refused.
    app.advance(1);
    let late = app.refresh(&t0).await;
    assert_eq!(
        late.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    // The successor still works: no reuse detection here.
    assert_eq!(app.refresh(&t1).await.status, StatusCode::OK);
}

#[tokio::test]
async fn grace_window_refuses_tokens_older_than_the_previous_one() {
    let app = test_app(with_grace(60));
    let (_, t0) = app.login().await;
    let t1 = refresh_of(&app.refresh(&t0).await);
    let t2 = refresh_of(&app.refresh(&t1).await);
    let reply = app.refresh(&t0).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "t0 is two rotations back"
    );
    let reply = app.refresh(&t1).await;
    assert_eq!(refresh_of(&reply), t2);
}

#[tokio::test]
async fn grace_window_does_not_revive_a_logged_out_successor() {
    let app = test_app(with_grace(60));
    let (_, t0) = app.login().await;
    let t1 = refresh_of(&app.refresh(&t0).await);
    app.post_json("/api/token/blacklist/", json!({"refresh": t1}))
        .await;
    assert_eq!(app.refresh(&t0).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reuse_detection_revokes_the_whole_family() {
    let app = test_app(|c| {
        rotating(c);
        c.reuse_detection = true;
    });
    let (_, t0) = app.login().await;
    let t1 = refresh_of(&app.refresh(&t0).await);
    let t2 = refresh_of(&app.refresh(&t1).await);
    // Another login is another family and must survive.
    let (_, other) = app.login().await;
    let reply = app.refresh(&t0).await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    let reply = app.refresh(&t2).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the head of the family is revoked too"
    );
    assert_eq!(app.refresh(&other).await.status, StatusCode::OK);
    let text = app.metrics().await;
    assert_eq!(metric(&text, "reuse_detections_total"), 1);
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"reuse_detected\"}"),
        1
    );
}

#[tokio::test]
async fn reuse_inside_the_grace_window_is_not_reuse() {
    let app = test_app(|c| {
        with_grace(5)(c);
        c.reuse_detection = true;
    });
    let (_, t0) = app.login().await;
    let t1 = refresh_of(&app.refresh(&t0).await);
    assert_eq!(refresh_of(&app.refresh(&t0).await), t1);
    app.advance(6);
    assert_eq!(app.refresh(&t0).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&t1).await.status,
        StatusCode::UNAUTHORIZED,
        "family revoked"
    );
}

#[tokio::test]
async fn session_cap_holds_whatever_the_rotations() {
    let app = test_app(|c| {
        rotating(c);
        c.session_max_lifetime = Some(Duration::from_secs(3600));
    });
    let (access, mut refresh) = app.login().await;
    assert_eq!(claims_of(&access)["auth_time"], START);
    for _ in 0..3 {
        app.advance(1000);
        let reply = app.refresh(&refresh).await;
        assert_eq!(reply.status, StatusCode::OK);
        refresh = refresh_of(&reply);
        assert_eq!(
            claims_of(&refresh)["exp"],
            START + 3600,
            "capped at the session end"
        );
        assert_eq!(claims_of(&refresh)["auth_time"], START);
    }
    app.advance(599);
    let reply = app.refresh(&refresh).await;
    assert_eq!(
        claims_of(reply.json()["access"].as_str().unwrap())["exp"],
        START + 3600
    );
    refresh = refresh_of(&reply);
    app.advance(1);
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is expired", "code": "token_not_valid"})
    );
}

#[tokio::test]
async fn default_tokens_carry_only_simplejwt_claims() {
    let app = test_app(rotating);
    let (access, refresh) = app.login().await;
    for token in [access, refresh] {
        let claims = claims_of(&token);
        let mut names: Vec<&str> = claims
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort();
        assert_eq!(names, ["exp", "iat", "jti", "token_type", "user_id"]);
    }
}

#[test]
fn options_that_build_on_the_store_refuse_to_start_without_it() {
    let (mut config, ..) = config_with(|_| {});
    config.atomic_rotation = true;
    assert!(config.validate().unwrap_err().contains("--atomic-rotation"));
    rotating(&mut config);
    assert!(config.validate().is_ok());
    config.blacklist_store = false;
    assert!(config.validate().is_err());
}
