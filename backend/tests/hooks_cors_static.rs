//! The test hooks' early faults, CORS and static files, through `oneshot`.
//! (Lost and truncated responses need a real connection: see `sockets.rs`.)

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

fn hooked(config: &mut refresh_backend::Config) {
    rotating(config);
    config.test_hooks = true;
}

#[tokio::test]
async fn faults_endpoint_arms_shows_and_clears() {
    let app = test_app(hooked);
    let empty = json!({"delay_ms": 0, "delay_after_ms": 0, "fail_500": 0, "fail_429": 0, "retry_after": 1, "lost_response": 0, "truncated_body": 0, "refuse_access": false});
    let reply = app
        .call(Method::GET, "/api/_test/faults", &[], Body::empty())
        .await;
    assert_eq!(reply.json(), empty);
    let reply = app
        .post_json(
            "/api/_test/faults",
            json!({"fail_500": 2, "fail_429": 1, "retry_after": 7, "lost_response": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"delay_ms": 0, "delay_after_ms": 0, "fail_500": 2, "fail_429": 1, "retry_after": 7, "lost_response": 1, "truncated_body": 0, "refuse_access": false})
    );
    let reply = app
        .call(Method::DELETE, "/api/_test/faults", &[], Body::empty())
        .await;
    assert_eq!(reply.json(), empty);
    let reply = app
        .post_json("/api/_test/faults", json!({"fail_501": 1}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app
        .call(Method::PUT, "/api/_test/faults", &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// `GET /api/data/1/` with `access` as the bearer token.
async fn data(app: &TestApp, access: &str) -> Reply {
    let bearer = format!("Bearer {access}");
    app.call(
        Method::GET,
        "/api/data/1/",
        &[("authorization", &bearer)],
        Body::empty(),
    )
    .await
}

async fn data_status(app: &TestApp, access: &str) -> StatusCode {
    data(app, access).await.status
}

#[tokio::test]
async fn clock_hook_puts_the_server_ahead_so_access_tokens_expire_at_once() {
    let app = test_app(hooked);
    let (access, refresh) = app.login().await;
    assert_eq!(data_status(&app, &access).await, StatusCode::OK);
    let reply = app
        .post_json("/api/_test/clock", json!({"advance_secs": 301}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["ahead_secs"], json!(301.0));
    assert_eq!(
        data_status(&app, &access).await,
        StatusCode::UNAUTHORIZED,
        "past the 5-minute access lifetime"
    );
    // The refresh token (a day) still works, and what it brings is fresh.
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    let fresh = reply.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(data_status(&app, &fresh).await, StatusCode::OK);
    let shown = app
        .call(Method::GET, "/api/_test/clock", &[], Body::empty())
        .await;
    assert_eq!(shown.json()["ahead_secs"], json!(301.0));
}

#[tokio::test]
async fn clock_hook_refuses_bad_steps_and_exists_only_with_test_hooks() {
    let app = test_app(hooked);
    for body in [
        json!({"advance_secs": -1}),
        json!({"advance_secs": 1e30}),
        json!({"advance_secs": "5"}),
        json!({"advance": 5}),
        json!([]),
    ] {
        let reply = app.post_json("/api/_test/clock", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let plain = test_app(rotating);
    let reply = plain
        .post_json("/api/_test/clock", json!({"advance_secs": 1}))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn date_header_comes_from_the_clock_tokens_are_stamped_with() {
    let app = test_app(hooked);
    let reply = app.call(Method::GET, "/metrics", &[], Body::empty()).await;
    assert_eq!(
        reply.header("date"),
        Some(refresh_backend::clock::http_date(app.now()).as_str())
    );
    app.post_json("/api/_test/clock", json!({"advance_secs": 86_400}))
        .await;
    let reply = app.call(Method::GET, "/metrics", &[], Body::empty()).await;
    assert_eq!(
        reply.header("date"),
        Some(refresh_backend::clock::http_date(app.now() + 86_400).as_str()),
        "the clock put ahead is the one answers are dated with"
    );
}

#[tokio::test]
async fn refuse_access_fault_refuses_every_access_token_but_not_the_refresh() {
    let app = test_app(hooked);
    let (access, refresh) = app.login().await;
    app.post_json("/api/_test/faults", json!({"refuse_access": true}))
        .await;
    assert_eq!(data_status(&app, &access).await, StatusCode::UNAUTHORIZED);
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    let fresh = reply.json()["access"].as_str().unwrap().to_owned();
    let refused = data(&app, &fresh).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "even the fresh one"
    );
    assert_eq!(refused.json()["code"], json!("token_not_valid"));
    app.call(Method::DELETE, "/api/_test/faults", &[], Body::empty())
        .await;
    assert_eq!(data_status(&app, &fresh).await, StatusCode::OK);
}

#[tokio::test]
async fn injected_500_and_429_leave_the_token_alone_and_are_counted() {
    let app = test_app(hooked);
    let (_, refresh) = app.login().await;
    app.post_json(
        "/api/_test/faults",
        json!({"fail_500": 1, "fail_429": 2, "retry_after": 3}),
    )
    .await;
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json(), json!({"detail": "A server error occurred."}));
    let cookie = format!("refresh={refresh}");
    for _ in 0..2 {
        let reply = app
            .call(
                Method::POST,
                "/api/auth/token/refresh/",
                &[("cookie", &cookie)],
                Body::empty(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.header("retry-after"), Some("3"));
        assert_eq!(
            reply.json(),
            json!({"detail": "Request was throttled. Expected available in 3 seconds."})
        );
        assert!(reply.set_cookies().is_empty());
    }
    assert_eq!(
        app.refresh(&refresh).await.status,
        StatusCode::OK,
        "the token was never touched"
    );
    let text = app.metrics().await;
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"injected_500\"}"),
        1
    );
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"injected_429\"}"),
        2
    );
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"success\"}"),
        1
    );
    assert_eq!(metric(&text, "injected_faults_total{kind=\"throttle\"}"), 2);
    assert_eq!(metric(&text, "refresh_duration_seconds_count"), 4);
}

#[tokio::test(start_paused = true)]
async fn armed_delay_holds_every_refresh_until_cleared() {
    let app = test_app(hooked);
    let (_, refresh) = app.login().await;
    app.post_json("/api/_test/faults", json!({"delay_ms": 1500}))
        .await;
    let started = tokio::time::Instant::now();
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(started.elapsed().as_millis(), 1500);
    app.call(Method::DELETE, "/api/_test/faults", &[], Body::empty())
        .await;
    let next = reply.json()["refresh"].as_str().unwrap().to_owned();
    let started = tokio::time::Instant::now();
    app.refresh(&next).await;
    assert_eq!(started.elapsed().as_millis(), 0);
    assert_eq!(
        metric(
            &app.metrics().await,
            "injected_faults_total{kind=\"delay\"}"
        ),
        1
    );
}

#[tokio::test]
async fn late_faults_need_a_connection_and_are_not_used_up_by_oneshot() {
    let app = test_app(hooked);
    let (_, refresh) = app.login().await;
    app.post_json("/api/_test/faults", json!({"lost_response": 1}))
        .await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
    let reply = app
        .call(Method::GET, "/api/_test/faults", &[], Body::empty())
        .await;
    assert_eq!(reply.json()["lost_response"], 1);
}

const ORIGIN: &str = "http://127.0.0.1:8080";

#[tokio::test]
async fn cors_answers_preflight_only_for_listed_origins() {
    let app = test_app(|c| c.cors_origins = vec![ORIGIN.into()]);
    let preflight = [
        ("origin", ORIGIN),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "content-type, x-csrftoken",
        ),
    ];
    let reply = app
        .call(
            Method::OPTIONS,
            "/api/auth/token/refresh/",
            &preflight,
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("GET, POST, DELETE, OPTIONS")
    );
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("Authorization, Content-Type, X-CSRFToken")
    );
    let other = [
        ("origin", "http://evil.example"),
        ("access-control-request-method", "POST"),
    ];
    let reply = app
        .call(
            Method::OPTIONS,
            "/api/auth/token/refresh/",
            &other,
            Body::empty(),
        )
        .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("access-control-allow-credentials"), None);

    let reply = app
        .post_json_with(
            "/api/token/refresh/",
            &[("origin", ORIGIN)],
            json!({"refresh": "x"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("Retry-After, WWW-Authenticate")
    );
    assert_eq!(reply.header("vary"), Some("Origin"));
}

#[tokio::test]
async fn no_cors_headers_without_listed_origins() {
    let app = test_app(|_| {});
    let reply = app
        .post_json_with(
            "/api/token/refresh/",
            &[("origin", ORIGIN)],
            json!({"refresh": "x"}),
        )
        .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn static_mounts_serve_files_with_browser_content_types() {
    let www = TempDir::new("www");
    let pkg = TempDir::new("pkg");
    std::fs::write(www.0.join("index.html"), "<!doctype html><p>demo").unwrap();
    std::fs::create_dir(www.0.join("sub")).unwrap();
    std::fs::write(www.0.join("sub/index.html"), "sub").unwrap();
    std::fs::write(www.0.join("app.mjs"), "export {}").unwrap();
    std::fs::write(www.0.join("style.css"), "p{}").unwrap();
    std::fs::write(pkg.0.join("coordinator_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.0.join("coordinator.js"), "export {}").unwrap();
    std::fs::write(pkg.0.join("package.json"), "{}").unwrap();
    let www_mount = www.0.to_str().unwrap().parse().unwrap();
    let pkg_mount = format!("/pkg={}", pkg.0.to_str().unwrap()).parse().unwrap();
    let app = test_app(|c| c.static_mounts = vec![www_mount, pkg_mount]);
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/sub/", "text/html; charset=utf-8"),
        ("/app.mjs", "text/javascript"),
        ("/style.css", "text/css"),
        ("/pkg/coordinator_bg.wasm", "application/wasm"),
        ("/pkg/coordinator.js", "text/javascript"),
        ("/pkg/package.json", "application/json"),
    ] {
        let reply = app.call(Method::GET, path, &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
    }
    let reply = app
        .call(Method::GET, "/pkg/coordinator_bg.wasm", &[], Body::empty())
        .await;
    assert_eq!(reply.body, b"\0asm\x01\0\0\0");
    let reply = app.call(Method::GET, "/sub", &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(reply.header("location"), Some("/sub/"));
    for path in [
        "/missing.js",
        "/pkg/../index.html",
        "/pkg/%2e%2e/index.html",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/sub%2f..%2f..%2fetc%2fpasswd",
        "/pkg/",
    ] {
        let reply = app.call(Method::GET, path, &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    // The API still wins over the static root.
    let reply = app
        .call(Method::GET, "/api/token/", &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// Issue 12's audit: `GET //sub` answered `301 Location: //sub/`, which a
/// browser reads as the host `sub`: an open redirect off the site.
#[tokio::test]
async fn directory_redirects_stay_on_the_site() {
    let www = TempDir::new("www-redirect");
    let pkg = TempDir::new("pkg-redirect");
    std::fs::create_dir(www.0.join("sub")).unwrap();
    std::fs::write(www.0.join("sub/index.html"), "sub").unwrap();
    std::fs::create_dir(pkg.0.join("snippets")).unwrap();
    let www_mount = www.0.to_str().unwrap().parse().unwrap();
    let pkg_mount = format!("/pkg={}", pkg.0.to_str().unwrap()).parse().unwrap();
    let app = test_app(|c| c.static_mounts = vec![www_mount, pkg_mount]);
    for (path, location) in [
        ("/sub", "/sub/"),
        ("//sub", "/sub/"),
        ("///sub", "/sub/"),
        ("/pkg", "/pkg/"),
        ("/pkg/snippets", "/pkg/snippets/"),
        ("/pkg//snippets", "/pkg//snippets/"),
    ] {
        let reply = app.call(Method::GET, path, &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::MOVED_PERMANENTLY, "{path}");
        assert_eq!(reply.header("location"), Some(location), "{path}");
    }
    for path in ["/sub%00", "/%00/x", "/sub/%00", "/pkg/%00"] {
        let reply = app.call(Method::GET, path, &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.json(), json!({"detail": "Not found."}), "{path}");
    }
}

#[tokio::test]
async fn static_files_answer_ranges_and_conditional_requests() {
    let www = TempDir::new("www-range");
    std::fs::write(www.0.join("app.js"), "export const x = 1;").unwrap();
    let www_mount = www.0.to_str().unwrap().parse().unwrap();
    let app = test_app(|c| c.static_mounts = vec![www_mount]);
    let reply = app
        .call(
            Method::GET,
            "/app.js",
            &[("range", "bytes=0-5")],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(reply.body, b"export");
    assert_eq!(reply.header("content-type"), Some("text/javascript"));
    let modified = app
        .call(Method::GET, "/app.js", &[], Body::empty())
        .await
        .header("last-modified")
        .unwrap()
        .to_owned();
    let reply = app
        .call(
            Method::GET,
            "/app.js",
            &[("if-modified-since", &modified)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    let reply = app.call(Method::HEAD, "/app.js", &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());
}

/// `delay_after_ms` holds the answer of a rotation that is already
/// committed: meanwhile the old refresh token is blacklisted.
#[tokio::test(start_paused = true)]
async fn delay_after_commits_the_rotation_then_holds_the_answer() {
    let app = std::sync::Arc::new(test_app(hooked));
    let (_, refresh) = app.login().await;
    app.post_json("/api/_test/faults", json!({"delay_after_ms": 1000}))
        .await;
    let started = tokio::time::Instant::now();
    let held = {
        let app = app.clone();
        let refresh = refresh.clone();
        tokio::spawn(async move { app.refresh(&refresh).await })
    };
    // Wait, bounded, until the held refresh has committed (it is counted
    // as a success before its answer is held).
    for _ in 0..1_000 {
        if metric(
            &app.metrics().await,
            "refresh_requests_total{outcome=\"success\"}",
        ) == 1
        {
            break;
        }
        tokio::task::yield_now().await;
    }
    let reuse = app.refresh(&refresh).await;
    assert_eq!(
        reuse.status,
        StatusCode::UNAUTHORIZED,
        "already blacklisted"
    );
    let reply = held.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(started.elapsed().as_millis(), 1000);
}
