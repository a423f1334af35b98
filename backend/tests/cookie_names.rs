//! `--access-cookie-name` / `--refresh-cookie-name` (dj-rest-auth's
//! `JWT_AUTH_COOKIE` / `JWT_AUTH_REFRESH_COOKIE`): login, refresh, logout and
//! protected requests use the configured names and ignore the default ones,
//! so two backends on one host (cookies ignore ports) keep separate sessions
//! in one browser.

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
use clap::Parser;
use common::*;
use refresh_backend::{app, Cli};
use serde_json::json;

fn renamed(config: &mut refresh_backend::Config) {
    rotating(config);
    config.access_cookie_name = "naive_access".to_owned();
    config.refresh_cookie_name = "naive_refresh".to_owned();
}

/// The names of the cookies a reply sets (or deletes).
fn cookie_names(reply: &Reply) -> Vec<String> {
    reply
        .set_cookies()
        .iter()
        .map(|line| line.split('=').next().unwrap().to_owned())
        .collect()
}

async fn login(app: &TestApp) -> Reply {
    app.post_json(
        "/api/auth/login/",
        json!({"username": USER, "password": PASSWORD}),
    )
    .await
}

async fn get_data(app: &TestApp, cookie: &str) -> Reply {
    app.call(
        Method::GET,
        "/api/data/1/",
        &[("cookie", cookie)],
        Body::empty(),
    )
    .await
}

async fn refresh(app: &TestApp, cookie: &str) -> Reply {
    app.call(
        Method::POST,
        "/api/auth/token/refresh/",
        &[("cookie", cookie)],
        Body::empty(),
    )
    .await
}

#[tokio::test]
async fn configured_cookie_names_carry_the_whole_cookie_session() {
    let app = test_app(renamed);
    let reply = login(&app).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(cookie_names(&reply), ["naive_access", "naive_refresh"]);
    let access = reply.cookie("naive_access").unwrap();
    let refresh_token = reply.cookie("naive_refresh").unwrap();
    assert_eq!(claims_of(&refresh_token)["token_type"], "refresh");

    // Protected: the configured access cookie authenticates; the same token
    // under the default name is not looked at.
    let reply = get_data(&app, &format!("naive_access={access}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = get_data(&app, &format!("access={access}")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Authentication credentials were not provided."})
    );

    // Refresh: the default-named cookie is not a refresh token here.
    let reply = refresh(&app, &format!("refresh={refresh_token}")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "No valid refresh token found.", "code": "token_not_valid"})
    );
    let reply = refresh(&app, &format!("naive_refresh={refresh_token}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(cookie_names(&reply), ["naive_access", "naive_refresh"]);
    let rotated = reply.cookie("naive_refresh").unwrap();
    assert_ne!(rotated, refresh_token);
    let new_access = reply.cookie("naive_access").unwrap();
    let reply = get_data(&app, &format!("naive_access={new_access}")).await;
    assert_eq!(reply.status, StatusCode::OK);

    // Logout reads the configured refresh cookie, blacklists it, and
    // deletes the configured cookies (not the default ones).
    let reply = app
        .call(
            Method::POST,
            "/api/auth/logout/",
            &[(
                "cookie",
                &format!("refresh=garbage; naive_refresh={rotated}"),
            )],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(cookie_names(&reply), ["naive_access", "naive_refresh"]);
    let reply = refresh(&app, &format!("naive_refresh={rotated}")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
}

#[tokio::test]
async fn two_backends_on_one_host_keep_their_sessions_apart() {
    // One browser cookie jar holds both backends' cookies and sends all of
    // them to each; each backend must pick its own.
    let default = test_app(rotating);
    let naive = test_app(renamed);
    let d = login(&default).await;
    let n = login(&naive).await;
    let jar = format!(
        "access={}; refresh={}; naive_access={}; naive_refresh={}",
        d.cookie("access").unwrap(),
        d.cookie("refresh").unwrap(),
        n.cookie("naive_access").unwrap(),
        n.cookie("naive_refresh").unwrap(),
    );
    assert_eq!(get_data(&default, &jar).await.status, StatusCode::OK);
    assert_eq!(get_data(&naive, &jar).await.status, StatusCode::OK);
    let reply = refresh(&naive, &jar).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(cookie_names(&reply), ["naive_access", "naive_refresh"]);
    let reply = refresh(&default, &jar).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "its own token, not rotated yet"
    );
    assert_eq!(cookie_names(&reply), ["access", "refresh"]);
}

#[tokio::test]
async fn cookie_name_flags_reach_the_config() {
    let cli = Cli::try_parse_from([
        "refresh-backend",
        "--db",
        ":memory:",
        "--user",
        "alice:wonderland",
        "--password-iterations",
        "2",
        "--access-cookie-name",
        "a2",
        "--refresh-cookie-name",
        "r2",
    ])
    .unwrap();
    let config = cli.settings.into_config().unwrap();
    assert_eq!(config.access_cookie_name, "a2");
    assert_eq!(config.refresh_cookie_name, "r2");
    let app = TestApp {
        router: app(config),
        ..test_app(|_| {})
    };
    let reply = login(&app).await;
    assert_eq!(cookie_names(&reply), ["a2", "r2"]);
}

#[test]
fn bad_cookie_names_are_refused() {
    for args in [
        ["--access-cookie-name", "a b"],
        ["--refresh-cookie-name", "r;x"],
        ["--refresh-cookie-name", "access"],
        ["--access-cookie-name", ""],
    ] {
        let cli =
            Cli::try_parse_from(["refresh-backend", "--db", ":memory:", args[0], args[1]]).unwrap();
        let error = cli.settings.into_config().unwrap_err();
        assert!(error.contains("cookie-name"), "{args:?}: {error}");
    }
}
