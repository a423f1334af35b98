//! dj-rest-auth's cookie mode through `oneshot`: login, refresh, logout,
//! and the cookie attributes.

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

async fn cookie_login(app: &TestApp) -> Reply {
    app.post_json(
        "/api/auth/login/",
        json!({"username": USER, "password": PASSWORD}),
    )
    .await
}

/// A cookie refresh with this `Cookie` header and no body.
async fn cookie_refresh(app: &TestApp, cookie: &str) -> Reply {
    app.call(
        Method::POST,
        "/api/auth/token/refresh/",
        &[("cookie", cookie)],
        Body::empty(),
    )
    .await
}

#[tokio::test]
async fn login_sets_httponly_cookies_and_returns_dj_rest_auth_body() {
    let app = test_app(|_| {});
    let reply = cookie_login(&app).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    let access = body["access"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({
            "access": access,
            "refresh": "",
            "user": {"pk": app.user_pk, "username": USER, "email": "", "first_name": "", "last_name": ""},
            "access_expiration": "2023-11-14T22:18:20Z",
            "refresh_expiration": "2023-11-15T22:13:20Z",
        })
    );
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 2);
    assert_eq!(
        cookies[0],
        format!("access={access}; expires=Tue, 14 Nov 2023 22:18:20 GMT; HttpOnly; Max-Age=300; Path=/; SameSite=Lax")
    );
    let refresh = reply.cookie("refresh").unwrap();
    assert_eq!(
        cookies[1],
        format!("refresh={refresh}; expires=Wed, 15 Nov 2023 22:13:20 GMT; HttpOnly; Max-Age=86400; Path=/; SameSite=Lax")
    );
    assert_eq!(claims_of(&refresh)["token_type"], "refresh");
}

#[tokio::test]
async fn secure_flag_marks_cookies_secure() {
    let app = test_app(|c| c.secure_cookies = true);
    let reply = cookie_login(&app).await;
    for line in reply.set_cookies() {
        assert!(line.ends_with("; SameSite=Lax; Secure"), "{line}");
    }
    let reply = app
        .call(Method::POST, "/api/auth/logout/", &[], Body::empty())
        .await;
    for line in reply.set_cookies() {
        assert!(line.ends_with("; Secure"), "{line}");
    }
}

#[tokio::test]
async fn login_errors_are_non_field_errors() {
    let app = test_app(|_| {});
    let reply = app
        .post_json(
            "/api/auth/login/",
            json!({"username": USER, "password": "x"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
    assert!(reply.set_cookies().is_empty());
    let reply = app
        .post_json("/api/auth/login/", json!({"username": USER}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"password": ["This field is required."]})
    );
    let reply = app
        .post_json("/api/auth/login/", json!({"password": PASSWORD}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
    assert_eq!(
        metric(&app.metrics().await, "login_failures_total"),
        2,
        "the 400 for a missing field is not a login attempt"
    );
}

#[tokio::test]
async fn cookie_refresh_rotates_cookies_and_returns_access_expiration() {
    let app = test_app(rotating);
    let login = cookie_login(&app).await;
    let refresh = login.cookie("refresh").unwrap();
    app.advance(100);
    let cookie = format!("refresh={refresh}");
    let reply = cookie_refresh(&app, &cookie).await;
    assert_eq!(reply.status, StatusCode::OK);
    let new_access = reply.cookie("access").unwrap();
    assert_eq!(
        reply.json(),
        json!({"access": new_access, "access_expiration": "2023-11-14T22:20:00Z"})
    );
    let new_refresh = reply.cookie("refresh").unwrap();
    assert_eq!(claims_of(&new_access)["exp"], START + 100 + 300);
    assert_ne!(new_refresh, refresh);
    for line in reply.set_cookies() {
        assert!(line.contains("; HttpOnly; "), "{line}");
        assert!(line.ends_with("; Path=/; SameSite=Lax"), "{line}");
    }
    // The old cookie is spent.
    let reply = cookie_refresh(&app, &cookie).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    assert!(
        reply.set_cookies().is_empty(),
        "cookies untouched on failure"
    );
}

#[tokio::test]
async fn cookie_refresh_without_rotation_sets_only_the_access_cookie() {
    let app = test_app(|_| {});
    let refresh = cookie_login(&app).await.cookie("refresh").unwrap();
    let cookie = format!("refresh={refresh}");
    let reply = cookie_refresh(&app, &cookie).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.set_cookies().len(), 1);
    assert!(reply.cookie("access").is_some());
}

#[tokio::test]
async fn cookie_refresh_without_any_token_is_401_no_valid_refresh_token() {
    let app = test_app(|_| {});
    for (headers, body) in [
        (vec![], ""),
        (vec![("cookie", "other=1; access=garbage")], ""),
        (vec![("content-type", "application/json")], "{}"),
    ] {
        let reply = app
            .call(Method::POST, "/api/auth/token/refresh/", &headers, body)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.json(),
            json!({"detail": "No valid refresh token found.", "code": "token_not_valid"})
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"api\"")
        );
        assert!(reply.set_cookies().is_empty());
    }
}

#[tokio::test]
async fn a_non_empty_body_refresh_wins_over_the_cookie() {
    let app = test_app(|_| {});
    let refresh = cookie_login(&app).await.cookie("refresh").unwrap();
    let reply = app
        .post_json_with(
            "/api/auth/token/refresh/",
            &[("cookie", "refresh=garbage")],
            json!({"refresh": refresh}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app
        .post_json_with(
            "/api/auth/token/refresh/",
            &[("cookie", &format!("refresh={refresh}"))],
            json!({"refresh": "garbage"}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is invalid", "code": "token_not_valid"})
    );
}

/// DESIGN.md: a stale or garbage access cookie never blocks login, refresh
/// or logout (dj-rest-auth authenticates those views and answers 401).
#[tokio::test]
async fn stale_access_cookie_blocks_nothing() {
    let app = test_app(rotating);
    let first = cookie_login(&app).await;
    let stale_access = first.cookie("access").unwrap();
    app.advance(301);
    let garbage = "access=%%%garbage; refresh=";
    let reply = app
        .post_json_with(
            "/api/auth/login/",
            &[("cookie", garbage)],
            json!({"username": USER, "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let refresh = reply.cookie("refresh").unwrap();
    let cookie = format!("access={stale_access}; refresh={refresh}");
    let reply = cookie_refresh(&app, &cookie).await;
    assert_eq!(reply.status, StatusCode::OK);
    let refresh = reply.cookie("refresh").unwrap();
    let cookie = format!("access=garbage; refresh={refresh}");
    let reply = app
        .call(
            Method::POST,
            "/api/auth/logout/",
            &[("cookie", &cookie)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

/// Issue 12, wire parity: dj-rest-auth's cookie refresh keeps the new
/// access token in the body (only `refresh` is taken out under
/// `JWT_AUTH_HTTPONLY`), and it is the one in the access cookie.
#[tokio::test]
async fn cookie_refresh_body_carries_the_access_token_of_the_cookie() {
    let app = test_app(|c| c.rotate_refresh_tokens = true);
    let first = cookie_login(&app).await.cookie("refresh").unwrap();
    let second = cookie_refresh(&app, &format!("refresh={first}"))
        .await
        .cookie("refresh")
        .unwrap();
    let cases = [
        ("valid cookie", Some(format!("refresh={second}")), None),
        // Rotation without blacklisting leaves the first token valid.
        ("old cookie", Some(format!("refresh={first}")), None),
        (
            "body refresh without cookie",
            None,
            Some(json!({"refresh": second})),
        ),
        (
            "{} with cookie",
            Some(format!("refresh={second}")),
            Some(json!({})),
        ),
        (
            "garbage access cookie beside a valid refresh cookie",
            Some(format!("access=garbage; refresh={second}")),
            None,
        ),
    ];
    for (case, cookie, body) in cases {
        let mut headers = vec![];
        if let Some(cookie) = &cookie {
            headers.push(("cookie", cookie.as_str()));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let reply = app
            .call(Method::POST, "/api/auth/token/refresh/", &headers, body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{case}");
        let access = reply.cookie("access").unwrap();
        assert_eq!(claims_of(&access)["token_type"], "access", "{case}");
        assert_eq!(
            reply.json(),
            json!({"access": access, "access_expiration": "2023-11-14T22:18:20Z"}),
            "{case}"
        );
    }
}

/// Issue 12, wire parity: the serializer's `CharField(required=False)` does
/// not allow blank, so `{"refresh": ""}` is a 400 even beside a valid
/// cookie, and nothing rotates.
#[tokio::test]
async fn blank_body_refresh_beside_a_valid_cookie_is_400_and_sets_no_cookie() {
    let app = test_app(rotating);
    let refresh = cookie_login(&app).await.cookie("refresh").unwrap();
    let cookie = format!("refresh={refresh}");
    for blank in [json!({"refresh": ""}), json!({"refresh": "   "})] {
        let reply = app
            .post_json_with("/api/auth/token/refresh/", &[("cookie", &cookie)], blank)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.json(),
            json!({"refresh": ["This field may not be blank."]})
        );
        assert!(reply.set_cookies().is_empty());
    }
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "token_rotations_total"), 0);
    let reply = cookie_refresh(&app, &cookie).await;
    assert_eq!(reply.status, StatusCode::OK, "the cookie is still unused");
}

#[tokio::test]
async fn logout_blacklists_and_deletes_both_cookies() {
    let app = test_app(|_| {});
    let refresh = cookie_login(&app).await.cookie("refresh").unwrap();
    let cookie = format!("refresh={refresh}");
    let reply = app
        .call(
            Method::POST,
            "/api/auth/logout/",
            &[("cookie", &cookie)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"detail": "Successfully logged out."}));
    assert_eq!(
        reply.set_cookies(),
        [
            "access=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax",
            "refresh=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax",
        ]
    );
    let reply = app.refresh(&refresh).await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );

    // Logging out again: 401, cookies still deleted.
    let reply = app
        .call(
            Method::POST,
            "/api/auth/logout/",
            &[("cookie", &cookie)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json(), json!({"detail": "Token is blacklisted"}));
    assert_eq!(reply.set_cookies().len(), 2);
}

/// Issue 12, wire parity: dj-rest-auth writes its logout 401s onto the
/// response rather than raising them, so none carries `WWW-Authenticate`;
/// with `JWT_AUTH_HTTPONLY` it reads the cookie only.
#[tokio::test]
async fn logout_errors_are_401_without_a_challenge_never_500() {
    let app = test_app(|_| {});
    let mut expired = refresh_claims();
    expired["exp"] = json!(START - 1);
    let expired = format!("refresh={}", forge(expired));
    let (_, spent) = app.login().await;
    assert_eq!(
        app.post_json("/api/token/blacklist/", json!({"refresh": spent}))
            .await
            .status,
        StatusCode::OK
    );
    let spent = format!("refresh={spent}");
    let body_only = serde_json::to_string(&json!({"refresh": forge(refresh_claims())})).unwrap();
    // dj-rest-auth answers 500 "An error has occurred." to garbage and
    // expired tokens.
    for (headers, body, detail) in [
        (
            vec![],
            String::new(),
            "Refresh token was not included in cookie data.",
        ),
        (
            vec![("content-type", "application/json")],
            body_only,
            "Refresh token was not included in cookie data.",
        ),
        (
            vec![("cookie", "refresh=garbage")],
            String::new(),
            "Token is invalid",
        ),
        (
            vec![("cookie", expired.as_str())],
            String::new(),
            "Token is expired",
        ),
        (
            vec![("cookie", spent.as_str())],
            String::new(),
            "Token is blacklisted",
        ),
    ] {
        let reply = app
            .call(Method::POST, "/api/auth/logout/", &headers, body)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{detail}");
        assert_eq!(reply.json(), json!({"detail": detail}));
        assert_eq!(reply.header("www-authenticate"), None, "{detail}");
        assert_eq!(reply.set_cookies().len(), 2, "{detail}");
    }
}

/// Issue 12, wire parity: dj-rest-auth's `LogoutView` has a `get` (405
/// unless `ACCOUNT_LOGOUT_ON_GET`), so its `Allow` names GET and HEAD too.
#[tokio::test]
async fn logout_allows_get_head_options_post() {
    let app = test_app(|_| {});
    for method in [Method::GET, Method::HEAD, Method::PUT] {
        let reply = app
            .call(method.clone(), "/api/auth/logout/", &[], Body::empty())
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
        if method != Method::HEAD {
            assert_eq!(
                reply.json(),
                json!({"detail": format!("Method \"{method}\" not allowed.")})
            );
        }
    }
    let reply = app
        .call(Method::OPTIONS, "/api/auth/logout/", &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
}

#[tokio::test]
async fn logout_without_blacklist_store_only_deletes_cookies() {
    let app = test_app(|c| c.blacklist_store = false);
    let reply = app
        .call(Method::POST, "/api/auth/logout/", &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"detail": "Successfully logged out."}));
    assert_eq!(reply.set_cookies().len(), 2);
}
