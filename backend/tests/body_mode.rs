//! The wire contract of SimpleJWT's body-mode endpoints, case by case,
//! comparing full JSON bodies, through `app(config).oneshot(..)`.

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

const PARSES: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

#[tokio::test]
async fn obtain_pair_returns_refresh_and_access_with_simplejwt_claims() {
    let app = test_app(|_| {});
    let reply = app
        .post_json(
            "/api/token/",
            json!({"username": USER, "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    let (refresh, access) = (
        body["refresh"].as_str().unwrap(),
        body["access"].as_str().unwrap(),
    );
    assert_eq!(body, json!({"refresh": refresh, "access": access}));
    let r = claims_of(refresh);
    assert_eq!(r["token_type"], "refresh");
    assert_eq!(r["exp"], START + 86_400);
    assert_eq!(r["iat"], START);
    assert_eq!(r["user_id"], app.user_pk.to_string());
    assert_eq!(r["jti"].as_str().unwrap().len(), 32);
    let a = claims_of(access);
    assert_eq!(a["token_type"], "access");
    assert_eq!(a["exp"], START + 300);
    assert_eq!(a["user_id"], r["user_id"]);
    assert_ne!(a["jti"], r["jti"]);
}

#[tokio::test]
async fn wrong_password_is_401_no_active_account() {
    let app = test_app(|_| {});
    for body in [
        json!({"username": USER, "password": "nope"}),
        json!({"username": "bob", "password": PASSWORD}),
    ] {
        let reply = app.post_json("/api/token/", body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.json(),
            json!({"detail": "No active account found with the given credentials"})
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"api\"")
        );
    }
}

#[tokio::test]
async fn obtain_field_errors_are_400_per_field() {
    let app = test_app(|_| {});
    let reply = app.post_json("/api/token/", json!({})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
    let reply = app
        .post_json("/api/token/", json!({"username": "", "password": null}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"username": ["This field may not be blank."], "password": ["This field may not be null."]})
    );
    let reply = app
        .post_json(
            "/api/token/",
            json!({"username": [USER], "password": {"x": 1}}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"username": ["Not a valid string."], "password": ["Not a valid string."]})
    );
}

#[tokio::test]
async fn form_encoded_login_works_like_drf() {
    let app = test_app(|_| {});
    let reply = app
        .call(
            Method::POST,
            "/api/token/",
            &[("content-type", "application/x-www-form-urlencoded")],
            format!("username={USER}&password={PASSWORD}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_without_rotation_returns_access_only() {
    let app = test_app(|_| {});
    let (_, refresh) = app.login().await;
    app.advance(10);
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    let access = reply.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(reply.json(), json!({"access": access}));
    assert_eq!(claims_of(&access)["exp"], START + 10 + 300);
    // Without rotation the same refresh token keeps working.
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rotation_returns_a_new_refresh_token_with_fresh_claims() {
    let app = test_app(rotating);
    let (_, refresh) = app.login().await;
    app.advance(60);
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    let (access, next) = (
        body["access"].as_str().unwrap(),
        body["refresh"].as_str().unwrap(),
    );
    assert_eq!(body, json!({"access": access, "refresh": next}));
    let (old, new) = (claims_of(&refresh), claims_of(next));
    assert_ne!(old["jti"], new["jti"]);
    assert_eq!(new["exp"], START + 60 + 86_400);
    assert_eq!(new["iat"], START + 60);
    assert_eq!(new["user_id"], old["user_id"]);
}

#[tokio::test]
async fn blacklisted_after_rotation_is_401_token_is_blacklisted() {
    let app = test_app(rotating);
    let (_, refresh) = app.login().await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"api\"")
    );
}

#[tokio::test]
async fn rotation_without_blacklisting_leaves_the_old_token_valid() {
    let app = test_app(|c| c.rotate_refresh_tokens = true);
    let (_, refresh) = app.login().await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_field_errors_are_400() {
    let app = test_app(|_| {});
    let cases = [
        (json!({}), json!({"refresh": ["This field is required."]})),
        (
            json!({"refresh": ""}),
            json!({"refresh": ["This field may not be blank."]}),
        ),
        (
            json!({"refresh": "   "}),
            json!({"refresh": ["This field may not be blank."]}),
        ),
        (
            json!({"refresh": null}),
            json!({"refresh": ["This field may not be null."]}),
        ),
        (
            json!({"refresh": true}),
            json!({"refresh": ["Not a valid string."]}),
        ),
        (
            json!({"refresh": ["a"]}),
            json!({"refresh": ["Not a valid string."]}),
        ),
        (
            json!(["refresh"]),
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ),
        (
            json!("refresh"),
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        ),
        (
            json!(null),
            json!({"non_field_errors": ["No data provided"]}),
        ),
    ];
    for (body, expected) in cases {
        let reply = app.post_json("/api/token/refresh/", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.json(), expected, "{body}");
    }
    // A number is a valid CharField value: it is then an invalid token.
    let reply = app
        .post_json("/api/token/refresh/", json!({"refresh": 12}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is invalid", "code": "token_not_valid"})
    );
}

#[tokio::test]
async fn empty_body_and_missing_content_type_count_as_no_data() {
    let app = test_app(|_| {});
    for (headers, body) in [
        (vec![("content-type", "application/json")], ""),
        (vec![], "{\"refresh\": \"x\"}"),
    ] {
        let reply = app
            .call(Method::POST, "/api/token/refresh/", &headers, body)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.json(),
            json!({"refresh": ["This field is required."]})
        );
    }
}

#[tokio::test]
async fn bad_bodies_get_drf_parse_media_type_and_size_errors() {
    let app = test_app(|_| {});
    let reply = app
        .call(
            Method::POST,
            "/api/token/refresh/",
            &[("content-type", "application/json")],
            "{\"refresh\": ",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("JSON parse error - "), "{detail}");

    let reply = app
        .call(
            Method::POST,
            "/api/token/refresh/",
            &[("content-type", "text/plain; charset=utf-8")],
            "refresh",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        reply.json(),
        json!({"detail": "Unsupported media type \"text/plain; charset=utf-8\" in request."})
    );

    let big = format!("{{\"refresh\": \"{}\"}}", "a".repeat(70 * 1024));
    let reply = app
        .call(
            Method::POST,
            "/api/token/refresh/",
            &[("content-type", "application/json")],
            big,
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.json(),
        json!({"detail": "Request body is larger than 65536 bytes."})
    );
}

#[tokio::test]
async fn token_errors_carry_simplejwt_messages() {
    let app = test_app(|_| {});
    let now = START;
    let with = |patch: serde_json::Value| {
        let mut claims = refresh_claims();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        forge(claims)
    };
    let valid = with(json!({}));
    let mut tampered = valid.clone();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    let header_none = base64_json(&json!({"alg": "none", "typ": "JWT"}));
    let alg_none = format!("{header_none}.{}.", valid.split('.').nth(1).unwrap());
    let rs256 = format!(
        "{}.{}.{}",
        base64_json(&json!({"alg": "RS256", "typ": "JWT"})),
        valid.split('.').nth(1).unwrap(),
        valid.split('.').nth(2).unwrap()
    );
    let cases = [
        (valid.clone(), 200, None),
        (tampered, 401, Some("Token is invalid")),
        (alg_none, 401, Some("Token is invalid")),
        (rs256, 401, Some("Token is invalid")),
        ("not.a.jwt".to_owned(), 401, Some("Token is invalid")),
        ("garbage".to_owned(), 401, Some("Token is invalid")),
        (with(json!({"exp": now})), 401, Some("Token is expired")),
        (
            with(json!({"exp": now - 100})),
            401,
            Some("Token is expired"),
        ),
        (with(json!({"exp": "soon"})), 401, Some("Token is invalid")),
        (
            with(json!({"iat": now + 100})),
            401,
            Some("Token is invalid"),
        ),
        (
            with(json!({"exp": null})),
            401,
            Some("Token has no 'exp' claim"),
        ),
        (with(json!({"jti": null})), 401, Some("Token has no id")),
        (with(json!({"jti": 7})), 401, Some("Token is invalid")),
        (
            with(json!({"token_type": null})),
            401,
            Some("Token has no type"),
        ),
        (
            with(json!({"token_type": "access"})),
            401,
            Some("Token has wrong type"),
        ),
        (
            with(json!({"token_type": 1})),
            401,
            Some("Token has wrong type"),
        ),
    ];
    for (token, status, message) in cases {
        let reply = app.refresh(&token).await;
        assert_eq!(reply.status.as_u16(), status, "{token}: {:?}", reply.json());
        if let Some(message) = message {
            assert_eq!(
                reply.json(),
                json!({"detail": message, "code": "token_not_valid"}),
                "{token}"
            );
        }
    }
}

fn base64_json(value: &serde_json::Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn leeway_accepts_a_just_expired_token() {
    let app = test_app(|c| c.leeway = std::time::Duration::from_secs(30));
    let mut claims = refresh_claims();
    claims["exp"] = json!(START - 10);
    assert_eq!(
        app.refresh(&forge(claims.clone())).await.status,
        StatusCode::OK
    );
    claims["exp"] = json!(START - 31);
    assert_eq!(
        app.refresh(&forge(claims)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn refresh_without_user_claim_is_401_not_500() {
    let app = test_app(rotating);
    let mut claims = refresh_claims();
    claims.as_object_mut().unwrap().remove("user_id");
    let reply = app.refresh(&forge(claims)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Token contained no recognizable user identification", "code": "token_not_valid"})
    );
}

/// DESIGN.md: SimpleJWT answers 500 for a deleted user; this answers 401.
#[tokio::test]
async fn refresh_for_a_deleted_user_is_401_no_active_account() {
    let app = test_app(rotating);
    let (_, refresh) = app.login().await;
    assert!(refresh_backend::TokenStore::delete_user(&*app.store, USER).unwrap());
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "No active account found for the given token."})
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"api\"")
    );
}

/// DESIGN.md: a validly signed refresh token with no jti is 401 "Token has
/// no id" with the blacklist store on (SimpleJWT reads the jti for its
/// blacklist check first, and gives 500).
#[tokio::test]
async fn refresh_token_without_jti_is_401_with_blacklist_store() {
    let app = test_app(rotating);
    let mut claims = refresh_claims();
    claims.as_object_mut().unwrap().remove("jti");
    let reply = app.refresh(&forge(claims)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Token has no id", "code": "token_not_valid"})
    );
}

#[tokio::test]
async fn verify_accepts_any_valid_token_and_refuses_others() {
    let app = test_app(rotating);
    let (access, refresh) = app.login().await;
    for token in [&access, &refresh] {
        let reply = app
            .post_json("/api/token/verify/", json!({"token": token}))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), json!({}));
    }
    let reply = app
        .post_json("/api/token/verify/", json!({"token": "x"}))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is invalid", "code": "token_not_valid"})
    );
    let reply = app.post_json("/api/token/verify/", json!({})).await;
    assert_eq!(reply.json(), json!({"token": ["This field is required."]}));
}

/// Issue 12, wire parity: SimpleJWT's `TokenVerifySerializer` raises a
/// `ValidationError` for a blacklisted token: 400 `non_field_errors`.
#[tokio::test]
async fn verify_of_a_rotated_refresh_token_is_400_token_is_blacklisted() {
    let app = test_app(rotating);
    let (_, refresh) = app.login().await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
    let reply = app
        .post_json("/api/token/verify/", json!({"token": refresh}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"non_field_errors": ["Token is blacklisted"]})
    );
    assert_eq!(reply.header("www-authenticate"), None);
}

#[tokio::test]
async fn blacklist_endpoint_blacklists_once() {
    let app = test_app(|_| {});
    let (access, refresh) = app.login().await;
    let reply = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({}));
    let reply = app
        .post_json("/api/token/blacklist/", json!({"refresh": refresh}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    let reply = app.refresh(&refresh).await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
    );
    let reply = app
        .post_json("/api/token/blacklist/", json!({"refresh": access}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token has wrong type", "code": "token_not_valid"})
    );
}

#[tokio::test]
async fn wrong_methods_get_drf_405_and_options_get_metadata() {
    let app = test_app(|_| {});
    for (method, path) in [
        (Method::GET, "/api/token/"),
        (Method::GET, "/api/token/refresh/"),
        (Method::PUT, "/api/token/verify/"),
        (Method::DELETE, "/api/token/blacklist/"),
        (Method::PATCH, "/api/auth/login/"),
        (Method::GET, "/api/auth/token/refresh/"),
        (Method::HEAD, "/api/auth/token/refresh/"),
        (Method::from_bytes(b"BREW").unwrap(), "/api/token/refresh/"),
    ] {
        let reply = app.call(method.clone(), path, &[], Body::empty()).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
        if method != Method::HEAD {
            assert_eq!(
                reply.json(),
                json!({"detail": format!("Method \"{method}\" not allowed.")})
            );
        }
    }
    let reply = app
        .call(Method::PUT, "/api/data/1/", &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        reply.json(),
        json!({"detail": "Method \"PUT\" not allowed."})
    );

    let reply = app
        .call(Method::OPTIONS, "/api/token/refresh/", &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({
            "name": "Token Refresh",
            "description": "",
            "renders": ["application/json", "text/html"],
            "parses": PARSES,
        })
    );
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let app = test_app(|_| {});
    for path in [
        "/api/token",
        "/api/nope/",
        "/",
        "/api/data/x/",
        "/api/data/-1/",
    ] {
        let reply = app.call(Method::GET, path, &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.json(), json!({"detail": "Not found."}));
    }
    let reply = app
        .call(Method::GET, "/api/_test/faults", &[], Body::empty())
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "hooks are off by default"
    );
}

#[tokio::test]
async fn first_auth_header_type_names_the_realm() {
    let app = test_app(|c| c.auth_header_types = vec!["JWT".into(), "Bearer".into()]);
    let reply = app.refresh("x").await;
    assert_eq!(reply.header("www-authenticate"), Some("JWT realm=\"api\""));
}
